"""Shared test set-up: the one-thread fixture for training tests."""

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
