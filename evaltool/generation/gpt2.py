"""GPT-2 forward passes for the fast decoding loop: one prompt pass, then one token per row.

Why it is faster than ``model.generate``: the prompt is run once per context and its
keys/values are shared by all of the context's rows (beams, searches), and only the few
generated positions are reordered when beams swap; the key/value cache is preallocated instead
of grown with ``torch.cat``; GELU is one fused op.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


def unsupported(model: Any) -> str | None:
    """Why the fast loop cannot run ``model`` exactly, or None when it can."""
    cfg = model.config
    if cfg.model_type != "gpt2":
        return f"model type {cfg.model_type!r} is not gpt2"
    if cfg.scale_attn_by_inverse_layer_idx or cfg.reorder_and_upcast_attn:
        return "non-standard GPT-2 attention scaling"
    if not cfg.scale_attn_weights or cfg.activation_function not in (
        "gelu_new",
        "gelu_pytorch_tanh",
    ):
        return f"activation {cfg.activation_function!r} or unscaled attention"
    return None


@dataclass
class _Layer:
    ln1: tuple[torch.Tensor, torch.Tensor]
    attn_w: torch.Tensor
    attn_b: torch.Tensor
    proj_w: torch.Tensor
    proj_b: torch.Tensor
    ln2: tuple[torch.Tensor, torch.Tensor]
    fc_w: torch.Tensor
    fc_b: torch.Tensor
    out_w: torch.Tensor
    out_b: torch.Tensor


class GPT2Runner:
    """GPT-2 forward passes over a shared prompt cache plus a per-beam generated cache."""

    def __init__(self, model: Any) -> None:
        tr = model.transformer
        self.cfg = model.config
        self.heads = self.cfg.n_head
        self.eps = self.cfg.layer_norm_epsilon
        self.wte = tr.wte.weight
        self.wpe = tr.wpe.weight
        self.lm_head = model.lm_head.weight
        self.ln_f = (tr.ln_f.weight, tr.ln_f.bias)
        self._threads = threading.local()  # work tensors are each thread's own
        self.layers = [
            _Layer(
                (b.ln_1.weight, b.ln_1.bias),
                b.attn.c_attn.weight,
                b.attn.c_attn.bias,
                b.attn.c_proj.weight,
                b.attn.c_proj.bias,
                (b.ln_2.weight, b.ln_2.bias),
                b.mlp.c_fc.weight,
                b.mlp.c_fc.bias,
                b.mlp.c_proj.weight,
                b.mlp.c_proj.bias,
            )
            for b in tr.h
        ]

    def buffer(
        self, name: str, shape: tuple[int, ...], dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """A reused work tensor: fresh large allocations page-fault on every step. Each thread
        has its own, so that a bot can answer two batches side by side."""
        dtype = dtype or self.wte.dtype
        key = (name, str(dtype), *shape)
        out: dict[tuple[str | int, ...], torch.Tensor] = vars(self._threads).setdefault("out", {})
        if key not in out:
            out[key] = torch.empty(shape, dtype=dtype, device=self.wte.device)
        return out[key]

    def _ln(self, x: torch.Tensor, wb: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), wb[0], wb[1], self.eps)

    def _mlp(self, layer: _Layer, h: torch.Tensor) -> torch.Tensor:
        m = torch.addmm(layer.fc_b, self._ln(h, layer.ln2), layer.fc_w)
        return h + torch.addmm(layer.out_b, F.gelu(m, approximate="tanh"), layer.out_w)

    def prefill(
        self, ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Run left-padded prompts [B, P]; return last-position logits and per-layer K, V."""
        b, p = ids.shape
        d, nh = self.cfg.n_embd, self.heads
        pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        h = (self.wte[ids] + self.wpe[pos]).view(b * p, d)
        causal = torch.ones(p, p, dtype=torch.bool, device=ids.device).tril()
        allowed = causal[None, None] & mask[:, None, None, :].bool()
        bias = torch.zeros(allowed.shape, dtype=h.dtype, device=ids.device)
        bias.masked_fill_(~allowed, torch.finfo(h.dtype).min)
        keys, values = [], []
        for layer in self.layers:
            qkv = torch.addmm(layer.attn_b, self._ln(h, layer.ln1), layer.attn_w)
            q, k, v = qkv.view(b, p, 3, nh, d // nh).permute(2, 0, 3, 1, 4).unbind(0)
            k, v = k.contiguous(), v.contiguous()
            keys.append(k)
            values.append(v)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            h = h + torch.addmm(layer.proj_b, a.transpose(1, 2).reshape(b * p, d), layer.proj_w)
            h = self._mlp(layer, h)
        last = self._ln(h.view(b, p, d)[:, -1], self.ln_f)
        return last @ self.lm_head.T, keys, values

    def step(self, tokens: torch.Tensor, pos: torch.Tensor, cache: Cache, t: int) -> torch.Tensor:
        """One new token per row (rows = contexts x beams); returns logits [rows, vocab]."""
        r = tokens.shape[0]
        b, nb = cache.contexts, r // cache.contexts
        d, nh = self.cfg.n_embd, self.heads
        hd = d // nh
        scale = 1.0 / math.sqrt(hd)
        h = self.wte[tokens] + self.wpe[pos]
        for i, layer in enumerate(self.layers):
            qkv = torch.addmm(layer.attn_b, self._ln(h, layer.ln1), layer.attn_w)
            q, k, v = qkv.view(r, 3, nh, hd).unbind(1)
            kg, vg = cache.gen_k[i], cache.gen_v[i]
            kg[:, :, t] = k
            vg[:, :, t] = v
            qb = q.view(b, nb, nh, hd).transpose(1, 2)  # [B, H, nb, hd]
            sp = torch.matmul(qb, cache.prompt_k[i].transpose(-1, -2)) * scale + cache.pad_bias
            sg = torch.matmul(q.view(r, nh, 1, hd), kg[:, :, : t + 1].transpose(-1, -2)) * scale
            sg = sg.view(b, nb, nh, t + 1).transpose(1, 2)
            w = torch.softmax(torch.cat([sp, sg], dim=-1), dim=-1)
            p = sp.shape[-1]
            out = torch.matmul(w[..., :p], cache.prompt_v[i])  # [B, H, nb, hd]
            wg = w[..., p:].transpose(1, 2).reshape(r, nh, 1, t + 1)
            out_g = torch.matmul(wg, vg[:, :, : t + 1]).view(b, nb, nh, hd).transpose(1, 2)
            a = (out + out_g).transpose(1, 2).reshape(r, d)
            h = h + torch.addmm(layer.proj_b, a, layer.proj_w)
            h = self._mlp(layer, h)
        logits = self.buffer("logits", (r, self.lm_head.shape[0]))
        return torch.mm(self._ln(h, self.ln_f), self.lm_head.T, out=logits)


@dataclass
class Cache:
    """Prompt keys/values per context and generated keys/values per row (context x beam).

    Generated keys/values live in two buffer sets; a beam reorder gathers the written part of
    one set into the other (one read, one write) and swaps them.
    """

    contexts: int
    prompt_k: list[torch.Tensor]
    prompt_v: list[torch.Tensor]
    pad_bias: torch.Tensor
    gen_k: list[torch.Tensor]
    gen_v: list[torch.Tensor]
    spare_k: list[torch.Tensor]
    spare_v: list[torch.Tensor]

    @classmethod
    def make(
        cls,
        keys: list[torch.Tensor],
        values: list[torch.Tensor],
        mask: torch.Tensor,
        rows: int,
        steps: int,
        beams: bool,
    ) -> Cache:
        b, nh, _, hd = keys[0].shape
        bias = torch.zeros(mask.shape, dtype=keys[0].dtype, device=mask.device)
        bias.masked_fill_(mask == 0, torch.finfo(bias.dtype).min)

        def bufs(n: int) -> list[torch.Tensor]:
            # Positions are read only after they are written, so no initialisation is needed.
            shape = (rows, nh, steps, hd)
            return [torch.empty(shape, dtype=keys[0].dtype, device=mask.device) for _ in range(n)]

        spare = len(keys) if beams else 0
        return cls(
            b,
            keys,
            values,
            bias[:, None, None, :],
            bufs(len(keys)),
            bufs(len(keys)),
            bufs(spare),
            bufs(spare),
        )

    def reorder(self, rows: torch.Tensor, written: int) -> None:
        """Make row i continue from row ``rows[i]``; ``written`` generated positions exist."""
        if written == 0:
            return
        for src, dst in zip(
            (*self.gen_k, *self.gen_v), (*self.spare_k, *self.spare_v), strict=True
        ):
            torch.index_select(src[:, :, :written], 0, rows, out=dst[:, :, :written])
        self.gen_k, self.spare_k = self.spare_k, self.gen_k
        self.gen_v, self.spare_v = self.spare_v, self.gen_v
