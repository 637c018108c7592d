"""An overload of advy_targets.tgt_order (registered first in the training run: it wins)."""
from numba.extending import overload

import advy_targets


@overload(advy_targets.tgt_order)
def _ov_order_a(x):
    return lambda x: x * 2.0
