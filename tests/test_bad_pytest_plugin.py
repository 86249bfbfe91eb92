"""Bad input to refattn.pytest_plugin: a stand-in registration names what is wrong."""

import types

from _helpers import Bad, bad_input_params

from refattn.pytest_plugin import _STAND_IN, register_stand_in

NOT_CUPY = types.ModuleType("numpy_like")

# fmt: off
CASES = [
    Bad("none", register_stand_in, None, raises=TypeError, arg="modules", match=r"a dict of sys\.modules names to modules, got NoneType"),
    Bad("a-module", register_stand_in, NOT_CUPY, raises=TypeError, arg="modules", match=r"a dict .* got module"),
    Bad("a-list", register_stand_in, [("cupy", NOT_CUPY)], raises=TypeError, arg="modules", match=r"a dict .* got list"),
    Bad("no-cupy", register_stand_in, {"numpy_like": NOT_CUPY}, raises=ValueError, arg="modules", match=r"a 'cupy' entry, got the keys \['numpy_like'\]"),
    Bad("wrong-name", register_stand_in, {"cupy": NOT_CUPY}, raises=ValueError, arg="modules", match=r"a module named 'cupy', got 'numpy_like'"),
    Bad("not-a-module", register_stand_in, {"cupy": object()}, raises=TypeError, arg="modules", match=r"names \(str\) to module objects, got 'cupy' -> object"),
    Bad("key-not-str", register_stand_in, {1: NOT_CUPY}, raises=TypeError, arg="modules", match=r"names \(str\) to module objects, got 1 -> module"),
]
# fmt: on


@bad_input_params(CASES)
def test_bad_input(case):
    before = dict(_STAND_IN)
    case.check()
    assert _STAND_IN == before  # a refused registration leaves the registered stand-in alone
