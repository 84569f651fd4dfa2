"""Adam for the fit loop: torch's own Adam update (`torch.optim.adam.adam`), without the
`torch.optim.Optimizer` class around it.

Why: every `torch.optim.Optimizer` imports `torch._dynamo` on its first `add_param_group`,
`zero_grad` and `step` (their torch.compile guards), 3 s of CPU in every training job here
(docs/benchmark_training.md, "Fixed costs per job"); the project never compiles. The functional
update is the one `torch.optim.Adam.step` calls, with the same arguments, so the weights are the
same bit for bit (tests/test_nn_core.py compares them step by step).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.optim.adam import adam


class Adam:
    """Adam (L2 weight decay as torch.optim.Adam, not AdamW) over `params`; `state` maps each
    parameter to its step, exp_avg and exp_avg_sq as torch.optim.Adam's does, so
    nn.ensemble.select_members can carry it over to a smaller ensemble."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("Adam: no parameter requires grad")
        self.defaults: dict[str, Any] = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for p in self.params:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("Adam: sparse gradients are not supported")
            state = self.state.get(p)
            if not state:  # as torch.optim.Adam._init_group: the step counter a CPU scalar
                scalar = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
                state = self.state[p] = {
                    "step": torch.tensor(0.0, dtype=scalar),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }
            params.append(p)
            grads.append(p.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        if not params:
            return
        beta1, beta2 = self.defaults["betas"]
        adam(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            foreach=None,
            capturable=False,
            differentiable=False,
            fused=None,
            has_complex=any(torch.is_complex(p) for p in params),
            decoupled_weight_decay=False,
            amsgrad=False,
            beta1=beta1,
            beta2=beta2,
            lr=self.defaults["lr"],
            weight_decay=self.defaults["weight_decay"],
            eps=self.defaults["eps"],
            maximize=False,
        )
