import pytest
import time_machine

from tests.journeys.clock import NOW


@pytest.fixture
def frozen_clock():
    """Stop the clock at NOW for the whole test."""
    with time_machine.travel(NOW, tick=False):
        yield
