"""What the tests of every exercise check assert, written once and imported by name.

Each tests/test_checks_<module>.py lists its checks (CHECKS), correct answers written in several
styles (CORRECT_ANSWERS) and plausible wrong answers, each with the words its failure message
must contain (WRONG_ANSWERS, which tests/test_exercises.py also reads), and parametrizes its own
tests over them with :func:`table`.
"""

import pytest


def table(answers: dict) -> list:
    """{check name: [answer or (answer, words), ...]} as pytest parameters (name, answer, words)."""
    rows = []
    for name, entries in answers.items():
        for number, entry in enumerate(entries, start=1):
            answer, words = entry if isinstance(entry, tuple) else (entry, None)
            rows.append(pytest.param(name, answer, words, id=f"{name}: {words or answer.__name__ + str(number)}"))
    return rows


def assert_passes(check, answer):
    result = check(answer)
    assert result.passed and str(result).startswith("[PASS]"), str(result)


def assert_fails_and_names(check, answer, words):
    result = check(answer)
    assert result.status == "failed" and not result.passed, str(result)
    assert words in result.message, result.message
    assert result.mistake is not None and "\n" not in str(result), str(result)


def assert_unfinished_says_so_in_one_line(check):
    def unfinished(*args, **kwargs):
        raise NotImplementedError("not done yet")

    result = check(unfinished)
    assert result.status == "not implemented"
    assert "not implemented yet" in str(result) and "\n" not in str(result)
