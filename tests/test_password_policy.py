"""Every operation that sets a password refuses weak ones and says why.

The operations are found in the schema, so one added later (a password reset,
say) is checked without touching this file. Arguments that check an existing
password are left out: an account made before the policy must still sign in.
"""

import json
import uuid
from typing import Any

import httpx
import pytest
from graphql import GraphQLField, GraphQLObjectType, get_named_type, is_non_null_type
from zxcvbn import matching

from core.password_strength import MAX_L33T_SUBSTITUTIONS
from core.passwords import PasswordPolicyError, check_policy
from graph.schema import schema
from tests.accounts_helpers import LOG_IN, PASSWORD, data, sign_up
from tests.graphql_client import gql

CHECKS_EXISTING = {
    ("logIn", "password"),
    ("changePassword", "currentPassword"),
    ("deleteAccount", "password"),
}
NAME = "Wilhelmina Oberbrunner"
REFUSED = {
    "common digits": "1234567890",
    "common word": "password12",
    "ten spaces": " " * 10,
    "a tab in a strong one": "correct horse\tbattery",
    "a DEL in a strong one": "correct horse\x7fbattery",
    "a C1 control in a strong one": "correct horse\x85battery",
    "the account's own name": "oberbrunner1234",
}
# Refused where the request enters, before any password rule (`core.inputs`).
NOT_TEXT = {
    "a lone surrogate in a strong one": "correct horse\ud800battery",
    "ten NULs": "\0" * 10,
}


def _password_setters() -> list[tuple[str, str]]:
    mutation = schema._schema.mutation_type
    assert mutation is not None
    return [
        (field_name, arg_name)
        for field_name, field in mutation.fields.items()
        for arg_name in field.args
        if "password" in arg_name.lower() and (field_name, arg_name) not in CHECKS_EXISTING
    ]


SETTERS = _password_setters()


def _valid_argument(arg_name: str) -> Any:
    valid = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "name": NAME}
    if arg_name == "currentPassword":
        return PASSWORD
    assert arg_name in valid, f"add a valid value for the argument {arg_name!r}"
    return valid[arg_name]


def _call(
    field_name: str, field: GraphQLField, password_arg: str, password: str
) -> tuple[str, Any]:
    declared = ", ".join(f"${name}: {arg.type}" for name, arg in field.args.items())
    passed = ", ".join(f"{name}: ${name}" for name in field.args)
    selection = (
        " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""
    )
    document = f"mutation({declared}) {{ {field_name}({passed}){selection} }}"
    variables = {
        name: password if name == password_arg else _valid_argument(name)
        for name, arg in field.args.items()
        if name == password_arg or is_non_null_type(arg.type)
    }
    return document, variables


async def _post(client: httpx.AsyncClient, document: str, variables: Any, token: str) -> Any:
    """JSON with `\\u` escapes, as a hostile client sends a lone surrogate."""
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": document, "variables": variables}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return response.json()


def test_the_walk_finds_the_known_password_setters() -> None:
    assert {("signUp", "password"), ("changePassword", "newPassword")} <= set(SETTERS)


@pytest.mark.parametrize(("field_name", "arg_name"), SETTERS)
@pytest.mark.parametrize(
    ("password", "reason"),
    [
        *((p, "The password ") for p in REFUSED.values()),
        *((p, "A value") for p in NOT_TEXT.values()),
    ],
    ids=[*REFUSED, *NOT_TEXT],
)
async def test_every_password_setter_refuses_weak_passwords(
    client: httpx.AsyncClient, field_name: str, arg_name: str, password: str, reason: str
) -> None:
    token = await sign_up(client, "wilhelmina.oberbrunner@example.com", name=NAME)
    mutation = schema._schema.mutation_type
    assert mutation is not None
    document, variables = _call(field_name, mutation.fields[field_name], arg_name, password)

    body = await _post(client, document, variables, token)

    assert body.get("errors"), body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST", error
    assert error["message"].startswith(reason), error
    assert len(error["message"]) > len("The password is too easy to guess."), error
    # Nothing changed: the old password still signs in.
    again = await gql(
        client, LOG_IN, {"email": "wilhelmina.oberbrunner@example.com", "password": PASSWORD}
    )
    data(again)


def test_the_reason_comes_from_the_estimator() -> None:
    with pytest.raises(PasswordPolicyError) as refused:
        check_policy("1234567890", ["ada@example.com"])
    assert str(refused.value) == (
        "The password is too easy to guess. This is a top-100 common password. "
        "Add another word or two. Uncommon words are better."
    )


def test_a_strong_password_passes() -> None:
    check_policy(PASSWORD, ["ada@example.com", "ada", "Ada"])


def test_one_estimate_scans_the_dictionaries_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unbounded, every l33t symbol at once costs 738 scans: seconds of CPU per sign-up."""
    scans = 0
    scan = matching.dictionary_match

    def counting_scan(*args: Any, **kwargs: Any) -> Any:
        nonlocal scans
        scans += 1
        return scan(*args, **kwargs)

    monkeypatch.setattr(matching, "dictionary_match", counting_scan)
    every_l33t_symbol = "".join(sorted({c for subs in matching.L33T_TABLE.values() for c in subs}))

    check_policy(every_l33t_symbol * 50, ["ada@example.com"])

    assert scans <= MAX_L33T_SUBSTITUTIONS + 4
