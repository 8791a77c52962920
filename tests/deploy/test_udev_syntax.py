"""Syntax of the shipped udev rules and of generated rules, checked everywhere (no udevadm needed).

udevadm 252 has no `verify`; the real matching runs in test_udev_rules.py where umockdev and root exist.
This parser accepts only keys and operators udev documents (udev(7)) and checks GOTO targets.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rpi_ess.cli.udev import Adapter, render_rule, render_socket_rule

RULES_DIR = Path(__file__).parents[2] / "udev"
MATCH_KEYS = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS",
              "ATTR", "ATTRS", "ENV", "TAG", "NAME", "SYMLINK", "TEST", "PROGRAM", "RESULT"}
ASSIGN_KEYS = {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "ATTR", "ENV", "TAG", "RUN", "LABEL", "GOTO",
               "IMPORT", "OPTIONS", "SECLABEL", "SYSCTL"}
WITH_ARGUMENT = {"ATTR", "ATTRS", "ENV", "IMPORT", "TEST", "RUN", "SECLABEL", "SYSCTL"}
OPTIONAL_ARGUMENT = {"IMPORT", "RUN"}  # RUN alone means RUN{program}
TOKEN = re.compile(r'(?P<key>[A-Z]+)(?:\{(?P<arg>[^}]+)\})?(?P<op>==|!=|\+=|-=|:=|=)"(?P<value>[^"]*)"')


def parse(text: str) -> list[list[tuple[str, str, str]]]:
    """Rules as lists of (key, operator, value); raises AssertionError on anything udev would reject."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rule, rest = [], line.strip()
        while rest:
            token = TOKEN.match(rest)
            assert token, f"line {number}: cannot parse {rest!r}"
            key, arg, op = token["key"], token["arg"], token["op"]
            assert (arg is not None) == (key in WITH_ARGUMENT) or key in OPTIONAL_ARGUMENT, \
                f"line {number}: {key} argument"
            allowed = MATCH_KEYS if op in ("==", "!=") else ASSIGN_KEYS
            assert key in allowed, f"line {number}: {key}{op} is not a valid udev key/operator"
            rule.append((key, op, token["value"]))
            rest = rest[token.end():]
            assert not rest or rest.startswith(", "), f"line {number}: expected ', ' before {rest!r}"
            rest = rest[2:]
        rules.append(rule)
    return rules


def test_shipped_rules_parse_and_gotos_have_labels():
    for path in RULES_DIR.glob("*.rules"):
        rules = parse(path.read_text())
        labels = {value for rule in rules for key, _, value in rule if key == "LABEL"}
        gotos = {value for rule in rules for key, _, value in rule if key == "GOTO"}
        assert gotos <= labels, f"{path.name}: GOTO without LABEL: {gotos - labels}"
        assert all(any(op not in ("==", "!=") for _, op, _ in rule) for rule in rules), f"{path.name}: no-op rule"


def test_ftdi_latency_rule_present():
    rules = parse((RULES_DIR / "60-rpi-ess.rules").read_text())
    assert [("SUBSYSTEM", "==", "usb-serial"), ("DRIVER", "==", "ftdi_sio"), ("ATTR", "=", "1")] in rules


@pytest.mark.parametrize("interface", ["00", "03", None])
def test_generated_rules_parse(interface):
    text = render_rule(Adapter("0403", "6011", "FT1", interface, None, "FTDI Quad"), "mast")
    (rule,) = parse(text)
    assert ("SYMLINK", "+=", "ess/mast") in rule


def test_generated_socket_rule_parses():
    adapter = Adapter("1a86", "7523", "", "00", "ttyUSB3", "CH340", "platform-xhci-hcd.0-usb-0:2:1.0")
    (rule,) = parse(render_socket_rule(adapter, "lower_right"))
    assert ("SYMLINK", "+=", "ttyUSB_lower_right") in rule


def test_every_production_socket_name_is_made():
    """Each of the four names, for the Pi 4 and the Pi 5 (ID_PATH patterns differ), exactly once each."""
    rules = parse((RULES_DIR / "60-rpi-ess.rules").read_text())
    sockets = [value for rule in rules for key, op, value in rule if key == "ENV" and op == "="
               and any(k == "ENV" and v.startswith(("platform-fd500000", "platform-xhci")) for k, _, v in rule)]
    assert sorted(sockets) == sorted(2 * ["upper_left", "upper_right", "lower_left", "lower_right"])


def test_parser_rejects_typos():
    with pytest.raises(AssertionError):
        parse('SUBSYSTEM="tty", SYMLINK+="x"')  # assignment to a match-only key
    with pytest.raises(AssertionError):
        parse('KERNEL=="ttyUSB0" SYMLINK+="x"')  # missing comma
