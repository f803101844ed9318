"""The tests every check module owes, written once.

Each tests/test_checks_<module>.py defines three dicts keyed by check name -- CHECKS (the check
functions), SOLUTIONS (a correct answer, written independently of the check's reference) and
WRONG_ANSWERS (plausible wrong answers, each with the words its failure message must contain) --
and imports these tests with ``from check_contract import *``. tests/conftest.py parametrizes
them over that module's dicts, so each module's report lists its own checks and mistakes.
"""

__all__ = [
    "test_the_reference_solution_passes",
    "test_every_likely_mistake_fails_and_is_named",
    "test_each_check_knows_at_least_three_wrong_answers",
    "test_an_unfinished_exercise_says_not_implemented_in_one_line",
]


def test_the_reference_solution_passes(check_name, request):
    module = request.module
    result = module.CHECKS[check_name](module.SOLUTIONS[check_name])
    assert result.passed, str(result)
    assert str(result).startswith("[PASS]")


def test_every_likely_mistake_fails_and_is_named(wrong_answer, request):
    check_name, wrong, words = wrong_answer
    result = request.module.CHECKS[check_name](wrong)
    assert result.status == "failed"
    assert words in result.message, result.message
    assert result.mistake is not None


def test_each_check_knows_at_least_three_wrong_answers(request):
    module = request.module
    assert set(module.WRONG_ANSWERS) == set(module.CHECKS) == set(module.SOLUTIONS)
    for check_name, answers in module.WRONG_ANSWERS.items():
        assert len({words for _, words in answers}) >= 3, check_name


def test_an_unfinished_exercise_says_not_implemented_in_one_line(check_name, request):
    def unfinished(*args, **kwargs):
        raise NotImplementedError("not done yet")

    result = request.module.CHECKS[check_name](unfinished)
    assert result.status == "not implemented"
    assert "not implemented yet" in str(result) and "\n" not in str(result)
