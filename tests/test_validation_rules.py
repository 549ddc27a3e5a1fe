"""The one-pass FieldRules check in front of validation: never accepts what the exact pass rejects.

Messages come from the fuzz harness's generator (valid messages of every shipped
dictionary, then damaged field by field), on both codec twins and random options.
"""

from __future__ import annotations

import importlib
import random
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixengine import _codec_py as pure
from fixengine import dictionary, validation
from fixengine.bench import fuzz
from fixengine.errors import GarbledMessage


def _twins() -> list[ModuleType]:
    twins = [pure]
    try:
        twins.append(importlib.import_module("fixengine._codec"))
    except ImportError:  # pragma: no cover - depends on the build
        pass
    return twins


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.binary(max_size=12), st.sampled_from(fuzz._ODD_VALUES)))
def test_codec_rules_do_what_the_dictionary_formats_do(value: bytes) -> None:
    for check, rule in validation._KNOWN_RULES.items():
        expected = bool(check(value)) if value else True
        for codec in _twins():
            rules = codec.FieldRules({35: (0, pure.RULE_ANY, None), 58: (1, rule, None)}, ())
            msg = codec.Message("D")
            if value:
                if b"\x01" in value:
                    continue
                msg.append(58, value)
            assert rules.check(msg) is expected, (check, value, codec.__name__)


def test_rule_of_maps_dictionary_checks() -> None:
    dd = dictionary.load("FIX44")
    checks = dd._value_checks
    assert validation._rule_of(checks[34]) == (pure.RULE_DIGITS, None)  # SEQNUM
    assert validation._rule_of(checks[52]) == (pure.RULE_TIMESTAMP, None)
    assert validation._rule_of(checks[38]) == (pure.RULE_DECIMAL, None)  # QTY
    rule, arg = validation._rule_of(checks[54])  # Side: an enumeration
    assert rule == pure.RULE_ENUM and b"1" in arg
    assert validation._rule_of(None) == (pure.RULE_ANY, None)
    odd = checks[18]  # ExecInst: MultipleValueString, a predicate of its own
    assert validation._rule_of(odd)[0] in (pure.RULE_CALL, pure.RULE_ENUM)


@pytest.mark.parametrize("seed", range(4))
def test_fast_rules_never_accept_what_the_exact_pass_rejects(seed: int) -> None:
    rng = random.Random(seed)
    fuzz.warm_up()
    accepted = rejected = 0
    for _ in range(600):
        factory = fuzz._random_factory(rng)
        options = validation.ValidationOptions(
            validate_user_defined_fields=rng.random() < 0.8,
            validate_fields_out_of_order=rng.random() < 0.8,
            validate_fields_have_values=rng.random() < 0.8,
            allow_unknown_msg_fields=rng.random() < 0.1,
            validate_unordered_group_fields=rng.random() < 0.8,
            check_enums=rng.random() < 0.85,
            check_formats=rng.random() < 0.85,
        )
        frame = fuzz.draw_frame(rng, factory, valid_framing=1.0)
        validator = validation.Validator(factory.session_dd, factory.app_dd, options)
        for codec in _twins():
            try:
                msg = codec.decode(frame)
            except GarbledMessage:
                continue
            mt = msg.msg_type
            try:
                plan = validator._plan(mt) if mt is not None else None
            except Exception:  # a FIXT application type without an application dictionary
                continue
            if plan is None:
                continue
            exact = validator._exact(msg.fields(), mt, plan)
            if plan.rules.check(msg):
                accepted += 1
                assert exact is None, (frame, exact)
            elif exact is not None:
                rejected += 1
            assert (validator.validate(msg) is None) is (exact is None)
    assert accepted > 50 and rejected > 50
