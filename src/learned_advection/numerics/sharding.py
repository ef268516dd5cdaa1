"""Grids larger than one device: the grid cut into blocks over a mesh of devices (JAX's SPMD sharding).

A 2-D grid ``(y, x)`` is split over a ``jax.sharding.Mesh`` with axes ``("y", "x")`` (a 1-D grid
over ``("x",)``): :func:`grid_mesh` lays out all of ``jax.devices()`` (4 -> 2 x 2, 2 -> 2 x 1, 8 -> 4 x 2)
and refuses a grid that the layout does not divide; :func:`usable_mesh` instead picks the largest mesh a
grid and a stepper's halo can use (fewer devices, one axis, or one device) and says why.  Results equal the
one-device run to round-off.
Two ways to run on the mesh:

* **Placement only** (any stepper): put the concentration and the velocity on the mesh with
  :func:`shard_fields` and call the usual jitted :func:`~learned_advection.numerics.rollout.rollout`;
  XLA's SPMD partitioner inserts the periodic halo exchanges for every ``jnp.roll`` and
  ``jnp.pad(mode="wrap")``.  :class:`Sharded` with ``halo=None`` does the same inside the step (it
  constrains its input and output to the mesh), so it also works on unplaced inputs.  Equal to the
  one-device run within a few ulp (XLA fuses the partitioned program differently).  On the classical
  schemes' fused path the partitioner reshards the wrap-padded copies with all-to-all collectives:
  measured 10-25x *slower* than one device on 4 host CPU devices at 256^2-1024^2.
* **Halo exchange** (:class:`Sharded` with an integer ``halo``, what :func:`sharded` picks whenever
  :func:`step_reach` knows the stepper): inside ``jax.shard_map``, every device receives the
  ``halo`` rows and columns next to its block from its neighbours (``jax.lax.ppermute``, periodic:
  the last block's neighbour is the first), runs the unchanged stepper on the extended block and keeps
  the block's interior.  A step changes a cell only from cells within its reach, so the interior is
  exact (bitwise equal to the one-device run in the runs tested: Van Leer and PPM, 1-D and 2-D, a stack
  of tracers, two processes; in general equal to round-off, since XLA may vectorise arrays of other
  shapes differently); the collectives are XLA's, no hand-written MPI.  Measured faster than one device at 1024^2 on the same 4 host devices
  (``learned-advection bench --shard --cpu-devices 4``).

Typical use (one host, all its devices)::

    mesh = la.grid_mesh(grid.shape)
    step = la.sharded(la.VANLEER, mesh)
    c0, velocity = la.shard_fields((c0, velocity), mesh)
    run = jax.jit(lambda c, v: la.rollout(step, c, v, dt, grid.spacing, 100, save_every=10))
    states = run(c0, velocity)  # sharded over the mesh like c0

Several hosts: call ``jax.distributed.initialize()`` in every process before any other JAX call, then
run the same program in every process; ``jax.devices()`` (and so :func:`grid_mesh`) then spans the
devices of all hosts, :func:`shard_fields` takes in every process the same full array and places each
process's blocks on its own devices, and ``jax.experimental.multihost_utils.process_allgather(states,
tiled=True)`` gathers a result in every process (tested with two CPU processes of two devices each).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from learned_advection.errors import UserError
from learned_advection.numerics.steppers import Stepper, Wrapper

AXES = ("y", "x")  # mesh axis names of the grid axes of a 2-D grid; a 1-D grid uses ("x",)


def use_cpu_devices(n: int) -> None:
    """Split the host CPU into ``n`` JAX devices (to try a sharded run on one machine; the test suite's
    ``--xla_force_host_platform_device_count``).  Only before JAX has started (before any array exists)."""
    try:
        jax.config.update("jax_num_cpu_devices", int(n))
    except RuntimeError:
        raise UserError("the number of CPU devices can only be set before JAX starts") from None


def mesh_shape(n_devices: int, ndim: int = 2) -> tuple[int, ...]:
    """The device layout for ``n_devices``: all of them along x in 1-D; in 2-D ``(n_y, n_x)`` with
    ``n_x`` the largest divisor of ``n_devices`` not above its square root (4 -> (2, 2), 2 -> (2, 1),
    8 -> (4, 2), 3 -> (3, 1))."""
    if n_devices < 1:
        raise ValueError(f"need at least one device, got {n_devices}")
    if ndim == 1:
        return (n_devices,)
    if ndim != 2:
        raise ValueError(f"grids are 1-D or 2-D, got {ndim} dimensions")
    n_x = max(d for d in range(1, math.isqrt(n_devices) + 1) if n_devices % d == 0)
    return (n_devices // n_x, n_x)


def _describe(mesh: Mesh) -> str:
    return " x ".join(f"{n} ({a})" for a, n in mesh.shape.items())


def check_blocks(shape: Sequence[int], mesh: Mesh, halo: int = 0) -> None:
    """Refuse (one-line :class:`~learned_advection.errors.UserError`) a grid ``shape`` that ``mesh`` does
    not cut into equal blocks, or whose blocks are narrower than ``halo`` cells along a split axis (an axis
    the mesh does not split needs no halo: the block is the whole periodic axis)."""
    sizes = tuple(mesh.shape.values())
    cells = "x".join(map(str, shape))
    if len(shape) != len(sizes):
        raise UserError(f"a {len(shape)}-D grid ({cells} cells) cannot be split over a {len(sizes)}-D device mesh")
    for n, k, axis in zip(shape, sizes, mesh.axis_names):
        if n % k:
            raise UserError(
                f"the {cells} grid cannot be split over {mesh.size} devices as {_describe(mesh)} blocks: "
                f"{n} cells along {axis} are not a multiple of {k}; use a grid divisible by the mesh "
                f"or fewer devices"
            )
        if k > 1 and n // k < halo:
            raise UserError(
                f"the {cells} grid split over {mesh.size} devices as {_describe(mesh)} gives blocks of "
                f"{n // k} cells along {axis}, fewer than the {halo} halo cells one step needs; use a "
                f"larger grid or fewer devices"
            )


def _layouts(n_devices: int, ndim: int) -> list[tuple[int, ...]]:
    """Every layout of exactly ``n_devices`` over ``ndim`` grid axes, :func:`mesh_shape`'s first, then the
    squarest first (more devices along y than along x on a tie)."""
    if ndim == 1:
        return [(n_devices,)]
    pairs = [(n_devices // d, d) for d in range(1, n_devices + 1) if n_devices % d == 0]
    first = mesh_shape(n_devices, 2)
    return [first, *sorted((p for p in pairs if p != first), key=lambda p: (abs(p[0] - p[1]), p[0] < p[1]))]


def _layout_text(layout: Sequence[int]) -> str:
    return " x ".join(f"{k} ({a})" for a, k in zip(AXES[-len(layout) :], layout))


def _fits(shape: Sequence[int], layout: Sequence[int], halo: int) -> bool:
    return all(n % k == 0 and (k == 1 or n // k >= halo) for n, k in zip(shape, layout))


def usable_layout(shape: Sequence[int], n_devices: int, halo: int = 0, who: str = "one step"):
    """The largest device layout of at most ``n_devices`` that a grid of ``shape`` can use, and why it has
    fewer devices than ``n_devices`` (``None`` when it has them all).

    Usable: every split axis divides into equal blocks of at least ``halo`` cells (an axis split over one
    device needs no halo).  The most devices win; among layouts of as many devices, :func:`mesh_shape`'s,
    then the squarest.  Pure arithmetic (no JAX): :func:`usable_mesh` puts devices on it.

    Parameters
    ----------
    shape : sequence of int
        The grid, ``(x,)`` or ``(y, x)``.
    n_devices : int
        The devices available (at least 1).
    halo : int, default 0
        The cells per side one step reads (:attr:`~learned_advection.numerics.steppers.Stepper.reach`;
        0 when unknown: SPMD placement makes its own halos).
    who : str, default "one step"
        What needs the halo, for the reason (``"ppm at Courant 3.5"``).

    Returns
    -------
    layout : tuple of int
        Devices along each grid axis (all ones: one device).
    reason : str or None
        One line: why the layout of all ``n_devices`` cannot be used and what runs instead
        (``"over 4 devices as 2 (y) x 2 (x), blocks of 16x16 cells are narrower than the 21-cell halo of
        ppm at Courant 3.5; running on 1 device"``).
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (1, 2):
        raise UserError(f"grids are 1-D or 2-D, got shape {shape}")
    if n_devices < 1:
        raise ValueError(f"need at least one device, got {n_devices}")
    ones = (1,) * len(shape)
    if n_devices == 1:
        return ones, None
    for k in range(n_devices, 1, -1):
        layout = next((lay for lay in _layouts(k, len(shape)) if _fits(shape, lay, halo)), None)
        if layout is not None:
            break
    else:
        layout = ones
    if layout != ones and math.prod(layout) == n_devices:
        return layout, None
    full = mesh_shape(n_devices, len(shape))
    cells = "x".join(map(str, shape)) if len(shape) == 2 else f"{shape[0]}-cell"
    bad = [(n, k, a) for n, k, a in zip(shape, full, AXES[-len(shape) :]) if n % k]
    if bad:
        n, k, axis = bad[0]
        why = f"{n} cells along {axis} do not split into {k} equal blocks"
        why = f"the {cells} grid cannot be split over {n_devices} devices as {_layout_text(full)}: {why}"
    else:
        blocks = "x".join(str(n // k) for n, k in zip(shape, full))
        why = (
            f"over {n_devices} devices as {_layout_text(full)}, blocks of {blocks} cells are narrower than the "
            f"{halo}-cell halo of {who}"
        )
    if layout == ones:
        return layout, f"{why}; running on 1 device"
    return layout, f"{why}; running on {math.prod(layout)} devices as {_layout_text(layout)}"


def usable_mesh(
    shape: Sequence[int], reach: int | None, devices: Sequence | None = None, who: str = "one step"
) -> tuple[Mesh, str | None]:
    """The largest mesh over some of ``devices`` that a grid of ``shape`` can use with halos of ``reach``
    cells (:func:`usable_layout`), and the one-line reason when it has fewer than all ``devices``.

    :func:`grid_mesh` refuses what it cannot use; this falls back instead: fewer devices (the first of
    ``devices``), a mesh over one axis, or one device (a mesh of size 1: run the stepper unsharded).  One
    process's view: under ``jax.distributed`` a mesh of fewer devices may leave out other processes'.

    Parameters
    ----------
    shape : sequence of int
        The grid, ``(x,)`` or ``(y, x)``.
    reach : int or None
        The stepper's :attr:`~learned_advection.numerics.steppers.Stepper.reach` (``None``: unknown, the
        SPMD partitioner makes the halos, only divisibility matters).
    devices : sequence of jax.Device, optional
        Default ``jax.devices()``.
    who : str, default "one step"
        What needs the halo, for the reason.

    Returns
    -------
    mesh : jax.sharding.Mesh
        Axes ``("y", "x")`` (``("x",)`` in 1-D).
    reason : str or None
        Why fewer devices than given, or ``None``.
    """
    devices = list(jax.devices() if devices is None else devices)
    layout, reason = usable_layout(shape, len(devices), reach or 0, who)
    used = devices[: math.prod(layout)]
    return Mesh(np.array(used, dtype=object).reshape(layout), AXES[-len(layout) :]), reason


def grid_mesh(shape: Sequence[int], devices: Sequence | None = None) -> Mesh:
    """A mesh over ``devices`` (default: ``jax.devices()``, every host's under ``jax.distributed``) laid out
    by :func:`mesh_shape` for a grid of ``shape`` ``(x,)`` or ``(y, x)``; refuses a grid it does not divide
    (:func:`usable_mesh` falls back to fewer devices instead)."""
    shape = tuple(int(n) for n in shape)
    devices = list(jax.devices() if devices is None else devices)
    if len(shape) not in (1, 2):
        raise UserError(f"grids are 1-D or 2-D, got shape {shape}")
    layout = mesh_shape(len(devices), len(shape))
    mesh = Mesh(np.array(devices, dtype=object).reshape(layout), AXES[-len(shape) :])
    check_blocks(shape, mesh)
    return mesh


def field_sharding(mesh: Mesh, ndim: int) -> NamedSharding:
    """How a field of ``ndim`` dimensions lies on the mesh: its last ``mesh.ndim`` (spatial) axes split
    over the mesh, any leading axes (time, tracer, sample) whole on every device."""
    return NamedSharding(mesh, PartitionSpec(*([None] * (ndim - mesh.devices.ndim)), *mesh.axis_names))


def shard_fields(fields, mesh: Mesh):
    """``fields`` (an array or any pytree of arrays: ``(c0, velocity)``) placed on ``mesh`` by
    :func:`field_sharding`; the same structure back.  Arrays must have the grid's axes last; leaves that
    are not arrays are returned as they are.  A numpy array keeps its dtype as JAX would convert it
    (float64 becomes float32 unless float64 is on)."""
    k = mesh.devices.ndim

    def place(x):
        if not isinstance(x, (jax.Array, np.ndarray)):
            return x
        if x.ndim < k:
            raise ValueError(f"a field on a {k}-D mesh needs at least {k} axes, got shape {x.shape}")
        check_blocks(x.shape[x.ndim - k :], mesh)
        sharding = field_sharding(mesh, x.ndim)
        if isinstance(x, jax.Array):
            return jax.device_put(x, sharding)
        host = np.asarray(x, dtype=jax.dtypes.canonicalize_dtype(x.dtype))
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree_util.tree_map(place, fields)


def step_reach(stepper: Stepper) -> int | None:
    """Cells (per side, along every axis) that one step of ``stepper`` reads to update a cell, when known:
    the stepper's own :attr:`~learned_advection.numerics.steppers.Stepper.reach` (``None`` for a network,
    whose receptive field is not a stencil's: :func:`sharded` then uses the SPMD partitioner's own halos).
    Over-estimating is safe (only a little extra work)."""
    return stepper.reach


def _extend(a, halo: int, mesh: Mesh):
    """The local block ``a`` with ``halo`` cells of each neighbouring block on both sides of every split axis
    (inside ``jax.shard_map``; y first, so the corners come with the x exchange).  An axis over one device
    is left as it is: the block holds the whole periodic axis, which the stepper wraps itself."""
    for axis, (name, size) in enumerate(mesh.shape.items()):
        if size == 1:
            continue
        n = a.shape[axis]
        last = jax.lax.slice_in_dim(a, n - halo, n, axis=axis)  # goes before the next block
        first = jax.lax.slice_in_dim(a, 0, halo, axis=axis)  # goes after the previous block
        last = jax.lax.ppermute(last, name, [(i, (i + 1) % size) for i in range(size)])
        first = jax.lax.ppermute(first, name, [(i, (i - 1) % size) for i in range(size)])
        a = jnp.concatenate([last, a, first], axis=axis)
    return a


class Sharded(Wrapper):
    """``stepper`` on a grid split over ``mesh`` (see the module doc); the same step to round-off.

    ``halo=None``: the input, velocity and output are constrained to the mesh
    (``jax.lax.with_sharding_constraint``) and XLA's SPMD partitioner makes the halos (any stepper).
    ``halo=h``: explicit exchange of ``h`` cells with the neighbouring blocks (``jax.shard_map`` and
    ``jax.lax.ppermute``) and the stepper run on every extended block; ``h`` must be at least the
    stepper's reach (:func:`step_reach`), and every block at least ``h`` cells wide along every axis the mesh
    splits (an axis over one device exchanges nothing).  Batch it with
    ``jax.vmap`` like any stepper (extra axes are whole on every device).
    """

    mesh: Mesh = eqx.field(static=True)
    halo: int | None = eqx.field(static=True, default=None)
    suffix: ClassVar[str] = "sharded"

    def __check_init__(self):
        if self.halo is not None and (isinstance(self.halo, bool) or not isinstance(self.halo, int) or self.halo < 1):
            raise ValueError(f"halo must be None or an integer >= 1, got {self.halo!r}")

    @property
    def name(self) -> str:
        return self.stepper.name  # the same scheme, only placed differently

    @property
    def reach(self) -> int | None:
        return self.stepper.reach

    def __call__(self, c, velocity, dt, spacing):
        velocity = tuple(velocity)
        k = self.mesh.devices.ndim
        if c.ndim != k:
            raise ValueError(f"a {k}-D mesh splits {k}-D grids, got a concentration of shape {c.shape}")
        check_blocks(c.shape, self.mesh, self.halo or 0)
        spec = PartitionSpec(*self.mesh.axis_names)
        if self.halo is None:
            sharding = NamedSharding(self.mesh, spec)

            def constrain(a):
                return jax.lax.with_sharding_constraint(a, sharding)

            return constrain(self.stepper(constrain(c), tuple(constrain(u) for u in velocity), dt, spacing))
        # Arrays inside the stepper (a network's weights) and a traced dt enter as replicated arguments; a
        # Python dt stays a Python number, so the arithmetic is exactly that of the unsharded step.
        params, static = eqx.partition(self.stepper, eqx.is_array)
        traced_dt = not isinstance(dt, numbers.Number)
        halo, mesh, spacing = self.halo, self.mesh, tuple(spacing)

        def local(block, vel, params, dt_arg):
            step = eqx.combine(params, static)
            out = step(
                _extend(block, halo, mesh),
                tuple(_extend(u, halo, mesh) for u in vel),
                dt_arg if traced_dt else dt,
                spacing,
            )
            for axis, size in enumerate(mesh.shape.values()):
                if size > 1:
                    out = jax.lax.slice_in_dim(out, halo, out.shape[axis] - halo, axis=axis)
            return out

        mapped = jax.shard_map(
            local, mesh=mesh, in_specs=(spec, spec, PartitionSpec(), PartitionSpec()), out_specs=spec
        )
        return mapped(c, velocity, params, dt if traced_dt else None)

    def regional_step(self, c, velocity, dt, spacing, conditions):
        """The step on a regional domain (:class:`~learned_advection.numerics.regional.Regional` of a sharded
        stepper), by SPMD placement whatever ``halo``: the concentration in and out constrained to the mesh, XLA's
        partitioner making the halos and the boundaries' ghost cells; the same step to round-off."""
        k = self.mesh.devices.ndim
        if c.ndim != k:
            raise ValueError(f"a {k}-D mesh splits {k}-D grids, got a concentration of shape {c.shape}")
        check_blocks(c.shape, self.mesh, 0)
        sharding = NamedSharding(self.mesh, PartitionSpec(*self.mesh.axis_names))
        out, fluxes = self.stepper.regional_step(
            jax.lax.with_sharding_constraint(c, sharding), tuple(velocity), dt, spacing, conditions
        )
        return jax.lax.with_sharding_constraint(out, sharding), fluxes

    def regional_fluxes(self, c, velocity, dt, spacing, conditions):
        return self.regional_step(c, velocity, dt, spacing, conditions)[1]


def sharded(stepper: Stepper, mesh: Mesh, halo: int | None = None) -> Sharded:
    """``stepper`` split over ``mesh``: by halo exchange with ``halo`` cells (default: the stepper's ``reach``),
    or by SPMD placement alone when its reach is unknown.

    Parameters
    ----------
    stepper
        Any stepper (a classical scheme, a wrapper, a learned model).
    mesh
        The device mesh (:func:`grid_mesh`).
    halo
        Cells exchanged with the neighbouring blocks; default ``stepper.reach``.
    """
    return Sharded(stepper, mesh, stepper.reach if halo is None else halo)
