"""Line -> command: every malformed-input case gets its own code and message."""

import json

import pytest

from rpi_ess.server.commands import CommandError, RateLimiter, call_command, parse_command
from rpi_ess.server.response import ResponseCode as RC


@pytest.mark.parametrize(
    ("line", "code", "text"),
    [
        (b"\xff\xfe", RC.MALFORMED_JSON, "not valid UTF-8"),
        (b"", RC.MALFORMED_JSON, "empty line"),
        (b"{nope", RC.MALFORMED_JSON, "not valid JSON"),
        (b"[1, 2]", RC.INVALID_COMMAND, "must be a JSON object, got list"),
        (b'{"command": "configure"}', RC.INVALID_COMMAND, "lacks parameters"),
        (b'{"parameters": {}}', RC.INVALID_COMMAND, "lacks command"),
        (b'{"command": 3, "parameters": {}}', RC.INVALID_COMMAND, "command must be a string"),
        (b'{"command": "status", "parameters": []}', RC.INVALID_COMMAND, "parameters must be an object"),
        (b'{"command": "status", "parameters": {}, "x": 1}', RC.INVALID_COMMAND, "unexpected key"),
        (b"heartbeat\n", RC.MALFORMED_JSON, "not valid JSON"),
    ],
)
def test_malformed_lines(line, code, text):
    with pytest.raises(CommandError) as info:
        parse_command(line)
    assert info.value.code == code
    assert text in info.value.message


def test_deep_nesting_is_refused_without_recursion_error():
    deep = b'{"command": "status", "parameters": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    with pytest.raises(CommandError) as info:
        parse_command(deep)
    assert info.value.code in (RC.INVALID_COMMAND, RC.MALFORMED_JSON)


def test_nan_in_parameters_is_accepted():
    command, parameters = parse_command(b'{"command": "configure", "parameters": {"configuration": NaN}}')
    assert command == "configure" and json.dumps(parameters) == '{"configuration": NaN}'


async def test_unknown_command_and_wrong_parameters():
    async def configure(configuration):
        return {"response": 0, "got": configuration}

    commands = {"configure": configure}
    with pytest.raises(CommandError) as info:
        await call_command(commands, "start", {})
    assert info.value.code == RC.UNKNOWN_COMMAND and "known: configure" in info.value.message
    with pytest.raises(CommandError) as info:
        await call_command(commands, "configure", {"configuration": 1, "extra": 2})
    assert info.value.code == RC.INVALID_PARAMETERS and "extra" in info.value.message
    with pytest.raises(CommandError) as info:
        await call_command(commands, "configure", {})
    assert info.value.code == RC.INVALID_PARAMETERS
    assert await call_command(commands, "configure", {"configuration": 7}) == {"response": 0, "got": 7}


def test_rate_limiter_bursts_then_refills():
    now = [0.0]
    limiter = RateLimiter(2.0, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(5)] == [True, True, True, True, False]
    now[0] += 0.5
    assert limiter.allow() and not limiter.allow()
    assert all(RateLimiter(0).allow() for _ in range(100))
