"""Shared test set-up: the one-thread fixture for training tests, and the parametrization of
the shared check tests (tests/check_contract.py) over the dicts of the module importing them."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """The training tests' models are tiny: one thread is faster than two, and far faster on a
    busy machine. Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_generate_tests(metafunc):
    module = metafunc.module
    if "check_name" in metafunc.fixturenames:
        metafunc.parametrize("check_name", sorted(module.CHECKS))
    if "wrong_answer" in metafunc.fixturenames:
        cases = [(name, wrong, words) for name, answers in module.WRONG_ANSWERS.items() for wrong, words in answers]
        metafunc.parametrize("wrong_answer", cases, ids=[f"{name}: {words}" for name, _, words in cases])
