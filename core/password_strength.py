"""How guessable a password is, estimated offline by zxcvbn, with its work bounded.

zxcvbn finds dictionary words, keyboard patterns, dates, repeats and sequences
(and the account's own words, given as user inputs) and scores 0 to 4 from the
guesses a cracker would need. Its l33t matcher, though, scans the dictionaries
once for every combination of substitutions the password's symbols allow: 736
when all of `4@8(<{[3691!|70+$5%2` appear, ten seconds of CPU for one
72-character password sent to `signUp`. So, as zxcvbn-ts does with its
`l33tMaxSubstitutions`, only the first `MAX_L33T_SUBSTITUTIONS` combinations
are tried (a password needs many different symbols to have more, which makes it
strong anyway), and only the first `ESTIMATED_PREFIX` characters are rated:
rating a prefix can only underestimate, so it never lets a weaker password in.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from zxcvbn import matching, zxcvbn

ESTIMATED_PREFIX = 32
MAX_L33T_SUBSTITUTIONS = 32

_every_l33t_substitution = matching.enumerate_l33t_subs


def _first_l33t_substitutions(table: Mapping[str, Iterable[str]]) -> list[dict[str, str]]:
    return _every_l33t_substitution(table)[:MAX_L33T_SUBSTITUTIONS]


# zxcvbn's l33t matcher looks this name up in its module on every call.
matching.enumerate_l33t_subs = _first_l33t_substitutions


@dataclass(frozen=True)
class Strength:
    score: int  # zxcvbn's 0 (too guessable) to 4 (very unguessable)
    reasons: list[str]  # zxcvbn's warning and suggestions, for a weak one


def estimate(password: str, user_inputs: Sequence[str]) -> Strength:
    """Not thread-safe: zxcvbn keeps `user_inputs` in a module global while it runs."""
    result = zxcvbn(password[:ESTIMATED_PREFIX], user_inputs=list(user_inputs))
    feedback = result["feedback"]
    reasons = [feedback["warning"], *feedback["suggestions"]]
    return Strength(score=result["score"], reasons=[r for r in reasons if r])
