"""K members of one architecture as ONE module: every convolution grouped by member.

A member's tensors sit in contiguous slices of the ensemble's: channels are member-major
((B, K*C, H, W): member 0's C channels, then member 1's, ...) and every parameter and buffer is
the concatenation along dim 0 of the members' own (a grouped conv's weight (K*out, in, kh, kw) is
exactly that). So a K-member module is packed from K one-member state dicts by `pack_states`,
unpacked by `unpack_state`, and a member that stopped early is dropped by `select_members`,
optimiser state included. Members never mix: the gradient of member k depends only on member
k's weights and inputs, and Adam is elementwise, so member k trains exactly as it would alone.

One grouped conv of K members keeps the CPU's vector units busy where K small convs would not
(docs/benchmark_training.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from landslide_sar.nn.optim import Adam


def grouped_conv(members: int, n_in: int, n_out: int, kernel: int, *, groups: int = 1, **kw) -> nn.Conv2d:
    """A conv of `members` independent members, each n_in -> n_out channels in `groups` groups."""
    return nn.Conv2d(members * n_in, members * n_out, kernel, groups=members * groups, **kw)


class MemberLoop:
    """Mixin for an ensemble module: with `grouped` False, forward runs member by member through
    a one-member twin on views of the ensemble's own parameters and buffers (same weights, same
    layout, same gradients), instead of one grouped conv per layer. On this CPU a grouped conv
    with few channels per group is slower than the members' convs one after the other for some
    nets (docs/benchmark_training.md), so each net's training picks the faster way."""

    grouped: bool = True
    members: int = 1

    def _twin(self, build: Callable[[], nn.Module]) -> None:
        self.__dict__["_member_twin"] = build() if self.members > 1 else None  # not a submodule: no own weights

    def loop_forward(self, x: torch.Tensor, **kwargs: object) -> torch.Tensor:
        """Member k's output of (B, C, H, W) shared or (B, K, C, H, W) own input, stacked on dim 1
        (keyword arguments go to the twin's forward)."""
        twin = self.__dict__["_member_twin"]
        twin.train(self.training)  # type: ignore[attr-defined]
        tensors = dict(self.named_parameters(), **dict(self.named_buffers()))  # type: ignore[attr-defined]
        outs = []
        for k in range(self.members):
            views = {n: t if t.ndim == 0 else t.view(self.members, -1, *t.shape[1:])[k] for n, t in tensors.items()}
            xk = x if x.ndim == 4 else x[:, k]
            outs.append(torch.func.functional_call(twin, views, (xk,), kwargs)[:, 0])
        return torch.stack(outs, dim=1)


def member_view(x: torch.Tensor, members: int) -> torch.Tensor:
    """(B, K*C, H, W) -> (B, K, C, H, W) view."""
    return x.reshape(x.shape[0], members, x.shape[1] // members, *x.shape[2:])


def member_cat(tensors: Sequence[torch.Tensor], members: int) -> torch.Tensor:
    """Concatenate member-major tensors per member: member k's channels of each, in order."""
    parts = [member_view(t, members) for t in tensors]
    out = torch.cat(parts, dim=2)
    return out.reshape(out.shape[0], -1, *out.shape[3:])


def take_members(t: torch.Tensor, members: int, keep: Sequence[int]) -> torch.Tensor:
    """The slices of members `keep` of an ensemble tensor (scalars are shared and kept)."""
    if t.ndim == 0:
        return t.clone()
    if t.shape[0] % members:
        raise ValueError(f"tensor of shape {tuple(t.shape)} is not split over {members} members along dim 0")
    idx = torch.as_tensor(list(keep), device=t.device)
    return t.reshape(members, -1, *t.shape[1:]).index_select(0, idx).reshape(-1, *t.shape[1:]).clone()


def pack_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One ensemble state dict from the members' one-member state dicts (same architecture)."""
    out = {}
    for name, first in states[0].items():
        out[name] = first.clone() if first.ndim == 0 else torch.cat([s[name] for s in states], dim=0)
    return out


def unpack_state(state: dict[str, torch.Tensor], members: int) -> list[dict[str, torch.Tensor]]:
    """The members' one-member state dicts (CPU copies) of an ensemble state dict."""
    return [{name: take_members(t, members, [k]).cpu() for name, t in state.items()} for k in range(members)]


def select_members(
    model: nn.Module,
    optimizer: Adam,
    members: int,
    keep: Sequence[int],
    build: Callable[[int], nn.Module],
) -> tuple[nn.Module, Adam]:
    """A new ensemble of members `keep` of `model` (weights and optimiser state carried over):
    members that stopped early no longer cost compute. `build(n)` makes an n-member module."""
    device = next(model.parameters()).device
    new = build(len(keep)).to(device)
    new.load_state_dict({k: take_members(v, members, keep) for k, v in model.state_dict().items()})
    new.train(model.training)
    opt = type(optimizer)(new.parameters(), **optimizer.defaults)
    for p_old, p_new in zip(model.parameters(), new.parameters()):
        state = optimizer.state.get(p_old)
        if state:
            opt.state[p_new] = {
                k: take_members(v, members, keep) if torch.is_tensor(v) else v for k, v in state.items()
            }
    return new, opt
