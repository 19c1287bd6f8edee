"""The environment switches are read one way: unset or blank is the default, 0/false/no/off is off, else on."""

import pytest

from orlkit.settings import env_switch


@pytest.mark.parametrize("default", [True, False])
def test_unset_or_blank_is_the_default(monkeypatch, default):
    monkeypatch.delenv("ORLKIT_TEST_SWITCH", raising=False)
    assert env_switch("ORLKIT_TEST_SWITCH", default) is default
    monkeypatch.setenv("ORLKIT_TEST_SWITCH", "  ")
    assert env_switch("ORLKIT_TEST_SWITCH", default) is default


@pytest.mark.parametrize("value, on", [("0", False), ("FALSE", False), (" no ", False), ("Off", False),
                                       ("1", True), ("yes", True), ("on", True), ("anything", True)])
def test_off_words_and_the_rest(monkeypatch, value, on):
    monkeypatch.setenv("ORLKIT_TEST_SWITCH", value)
    assert env_switch("ORLKIT_TEST_SWITCH", default=not on) is on
