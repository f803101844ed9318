"""What the tests of every exercise check assert, written once and imported by name.

Each tests/test_checks_<module>.py lists its checks (CHECKS), correct answers written in several
styles (CORRECT_ANSWERS) and plausible wrong answers, each with the words its failure message
must contain (WRONG_ANSWERS, which tests/test_exercises.py also reads), and parametrizes its own
tests over them with :func:`table`.
"""

import pytest
import torch


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
    assert "\n" not in str(result), str(result)
    if not words.startswith("expected"):  # a difference the check cannot explain is not given a name
        assert result.mistake is not None, str(result)


def assert_unfinished_says_so_in_one_line(check):
    def unfinished(*args, **kwargs):
        raise NotImplementedError("not done yet")

    result = check(unfinished)
    assert result.status == "not implemented"
    assert "not implemented yet" in str(result) and "\n" not in str(result)


def assert_a_crash_is_reported_in_one_line(check):
    def crashes(*args, **kwargs):
        raise ValueError("shapes do not match\n  mu: (3, 4)\n  logvar: (4,)")

    result = check(crashes)
    assert result.status == "failed" and "\n" not in str(result), str(result)
    assert result.message.endswith("raised ValueError: shapes do not match"), result.message


# Wrong answers of the classes every check guards against, built from a correct answer.
def _each(out, convert):
    return tuple(convert(o) for o in out) if isinstance(out, (tuple, list)) else convert(out)


def in_place(solution, argument):
    """The right result, but the given argument is overwritten afterwards (as x -= mean would)."""

    def answer(*args):
        out = solution(*args)
        with torch.no_grad():
            args[argument].mul_(0.5)
        return out

    return answer


def as_numpy(solution):
    return lambda *args: _each(solution(*args), lambda o: o.detach().numpy())


def as_python(solution):
    return lambda *args: _each(solution(*args), lambda o: o.tolist())


def as_dtype(solution, dtype):
    return lambda *args: _each(solution(*args), lambda o: o.to(dtype))


def detached(solution):
    return lambda *args: _each(solution(*args), lambda o: o.detach())
