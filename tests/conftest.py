"""Parametrization of the shared check tests (tests/check_contract.py) over the dicts of the
test module that imports them."""


def pytest_generate_tests(metafunc):
    module = metafunc.module
    if "check_name" in metafunc.fixturenames:
        metafunc.parametrize("check_name", sorted(module.CHECKS))
    if "wrong_answer" in metafunc.fixturenames:
        cases = [(name, wrong, words) for name, answers in module.WRONG_ANSWERS.items() for wrong, words in answers]
        metafunc.parametrize("wrong_answer", cases, ids=[f"{name}: {words}" for name, _, words in cases])
