"""RETURNN Theano's decoder LSTM with `"recurrent_transform": "attention_list"` in torch, one decoder step at a
time (docs/netdict.md, "Theano attention: recurrent_transform attention_list").

RETURNN 1.20190515's `RecurrentTransform.py` (RT) `AttentionList` and `NetworkRecurrentLayer.py` (NRL) `LSTME`,
on a padded batch: each sequence computes what it computes alone (a batch of one), so every mean, sum, sort and
argmax over a base's frames runs over that sequence's valid frames only. The loop runs the decoder's longest
length; a sequence past its own length keeps its state. Gates are netc's j, i, f, o (the layout of `rec/W_re`,
`rec/b` and `W_att_in_*`). Plain autograd: argmax (`attention_nbest` 1) passes gradient to the picked frame only,
as Theano's `T.argmax` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from netc.ir import Direction, Node
from netc.ir.layers import Rec
from netc.ir.layers.theano_attention import SUFFIX, Distance, Norm, TheanoAttention

from .context import RunContext


@dataclass(frozen=True)
class Base:
    """One attended layer: its frames `B [B, T, F]` and template vectors `C [B, T, K]` (0 on padded frames), the
    valid frames `[B, T]` and the lengths `[B, 1]`."""

    B: torch.Tensor
    C: torch.Tensor
    valid: torch.Tensor
    lengths: torch.Tensor


def lower_attention_decoder(node: Node, layer: Rec, ctx: RunContext) -> torch.Tensor:
    """The decoder's output, packed on its time axis; its final states into `ctx.final_states`."""
    att = layer.theano_attention
    assert att is not None
    n = node.out_type.feature
    packing = ctx.packing(node.out_type.time)
    lengths = packing.lengths
    bases = [base(node, name, i, att, ctx) for i, name in enumerate(att.base)]
    h = torch.cat([ctx.final_states[e][0] for e in layer.encoder or ()], dim=1)
    c = torch.cat([ctx.final_states[e][1] for e in layer.encoder or ()], dim=1)
    W_re, b = ctx.param(node, "rec/W_re"), ctx.param(node, "rec/b")
    backward = layer.direction is Direction.BACKWARD
    steps = []
    for k in range(packing.steps):
        gates = b + attend(node, h, bases, att, n, backward, ctx) + h @ W_re  # NRL lines 156, 159
        j, i, f, o = gates.split(n, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(j)  # NRL line 165
        h_new = torch.sigmoid(o) * torch.tanh(c_new)  # NRL line 166
        active = (k < lengths)[:, None].to(h.device)
        h, c = torch.where(active, h_new, h), torch.where(active, c_new, c)
        steps.append(h_new)
    y = torch.stack(steps, dim=1)  # [B, S, n] in step order
    if backward:  # step k of sequence b computed its frame len_b - 1 - k
        frames = (lengths[:, None] - 1 - torch.arange(packing.steps)[None, :]).clamp(min=0).to(y.device)
        y = y.gather(1, frames[:, :, None].expand(-1, -1, n))
    ctx.final_states[node.name] = (h, c)
    return packing.pack(y)


def base(node: Node, name: str, i: int, att: TheanoAttention, ctx: RunContext) -> Base:
    """A base's frames and template vectors (RT lines 486-506): C = B where B's dim is the template, else
    `tanh(B W_att_bs + b_att_bs)` minus its mean over the sequence's frames (RT lines 496, 501)."""
    t = ctx.graph.type_of(name)
    B = ctx.packing(t.time).unpack(ctx.values[name])  # zeros on padded frames
    valid = ctx.valid(t, B)  # [B, T, 1]
    lengths = valid.sum(dim=1).to(B.dtype)  # [B, 1]
    if t.feature == att.template:
        C = B
    else:
        h_att = torch.tanh(B @ ctx.param(node, f"W_att_bs_{i}{SUFFIX}") + ctx.param(node, f"b_att_bs_{i}{SUFFIX}"))
        C = torch.where(valid, h_att - sequence_mean(h_att, valid, lengths[:, None]), 0.0)
    return Base(B, C, valid[..., 0], lengths)


def sequence_mean(x: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The mean of `x` `[B, T, ...]` over each sequence's valid frames (`valid` and `lengths` broadcast to `x` and
    to its sum over T; a sequence without frames divides by 1), keeping the T axis as size 1."""
    return torch.where(valid, x, 0.0).sum(dim=1, keepdim=True) / lengths.clamp(min=1)


def attend(node: Node, h: torch.Tensor, bases: list[Base], att: TheanoAttention, n: int, backward: bool,
           ctx: RunContext) -> torch.Tensor:
    """RT AttentionList.attend (lines 575-627): `[B, 4n]`, the sum over bases of `z W_att_in + b_att_in`."""
    inp = h.new_zeros(h.shape[0], 4 * n)
    for i, base_i in enumerate(bases):
        glimpse = None
        for _ in range(att.glimpses):  # RT line 578
            z_p = h
            if att.template != n:
                z_p = h @ ctx.param(node, f"W_att_re_{i}{SUFFIX}") + ctx.param(node, f"b_att_re_{i}{SUFFIX}")
            if glimpse is not None:
                z_p = z_p + glimpse  # RT line 571
            w = weights(distance(node, base_i.C, torch.tanh(z_p), att, ctx), base_i, att)  # RT lines 572, 580-581
            glimpse = (base_i.C * w[:, :, None]).sum(dim=1)  # RT line 598
        if att.nbest == 1:
            z = base_i.B.gather(1, best_frame(w, base_i.valid, backward)[:, :, None].expand(-1, -1, base_i.B.shape[2]))
            z = z[:, 0]  # RT line 620
        else:
            z = (base_i.B * w[:, :, None]).sum(dim=1)  # RT line 622
        inp = inp + z @ ctx.param(node, f"W_att_in_{i}{SUFFIX}") + ctx.param(node, f"b_att_in_{i}{SUFFIX}")
    return inp


def distance(node: Node, C: torch.Tensor, H: torch.Tensor, att: TheanoAttention, ctx: RunContext) -> torch.Tensor:
    """RT AttentionBase.distance (lines 331-357): `[B, T]` from C `[B, T, K]` and H `[B, K]`."""
    H = H[:, None, :]
    if att.distance is Distance.L2:
        return ((C - H) ** 2).sum(dim=2).sqrt()
    if att.distance is Distance.LOGL2:
        return ((torch.log((C + 1) / 2) - torch.log((H + 1) / 2)) ** 2).sum(dim=2).sqrt()
    if att.distance is Distance.SQR:
        return ((C - H) ** 2).mean(dim=2)
    if att.distance is Distance.DOT:
        return (C * H).sum(dim=2)
    if att.distance is Distance.L1:
        return (C - H).abs().sum(dim=2)
    if att.distance is Distance.COS:
        # NOTE: the clamp changes no value (a zero vector stays 0) but keeps sqrt's infinite slope at 0 out of the
        # gradient: a one-frame projected base is exactly 0 after its mean is subtracted (Theano: NaN gradients)
        J = H / ((H ** 2).sum(dim=2, keepdim=True).clamp(min=1e-30).sqrt() + 1e-5)
        K = C / ((C ** 2).sum(dim=2, keepdim=True).clamp(min=1e-30).sqrt() + 1e-5)
        return (K * J).sum(dim=2)
    return (ctx.param(node, f"W_T{SUFFIX}") * torch.tanh(C + H)).sum(dim=2)  # transpose, RT line 354


def weights(D: torch.Tensor, base_i: Base, att: TheanoAttention) -> torch.Tensor:
    """RT AttentionBase.softmax (lines 390-421) over each sequence's valid frames; 0 on padded frames."""
    valid = base_i.valid
    D = D * att.sharpening  # RT line 391
    if att.norm is Norm.EXP:
        mean = sequence_mean(D, valid, base_i.lengths)
        # NOTE: padded frames take exp(0): an overflow there would put inf * 0 = NaN into the gradient
        E = torch.where(valid, torch.exp(-torch.where(valid, D - mean, 0.0)), 0.0)  # RT lines 393-394
        E = E / E.sum(dim=1, keepdim=True).clamp(min=1e-20)  # RT line 395
    elif att.norm is Norm.LINEAR:
        E = torch.where(valid, D, 0.0)  # RT line 397
        E = torch.where(valid, 1 - E / E.sum(dim=1, keepdim=True).clamp(min=1e-20), 0.0)  # RT line 398
    else:
        E = torch.where(valid, 1 - torch.tanh(D) ** 2, 0.0)  # RT line 400
    if att.nbest > 1:  # RT lines 417-420: below the min(nbest, T)-th largest weight -> 0
        ranked = torch.where(valid, E, -torch.inf).sort(dim=1, descending=True).values
        k = (base_i.lengths.to(torch.int64).clamp(max=att.nbest) - 1).clamp(min=0)
        E = torch.where(E < ranked.gather(1, k), 0.0, E)
    return E


def best_frame(w: torch.Tensor, valid: torch.Tensor, backward: bool) -> torch.Tensor:
    """`[B, 1]` the frame of the largest weight (RT line 620); Theano scans a backward decoder's base reversed
    (RT line 486), so there `T.argmax` finds the last of equal maxima."""
    scores = torch.where(valid, w, -torch.inf)
    ties = scores == scores.max(dim=1, keepdim=True).values
    frames = torch.arange(w.shape[1], device=w.device)[None, :].expand_as(w)
    if backward:
        best = torch.where(ties, frames, -1).max(dim=1, keepdim=True).values
    else:
        best = torch.where(ties, frames, w.shape[1]).min(dim=1, keepdim=True).values
    return best.clamp(0, max(w.shape[1] - 1, 0))  # a base without frames: frame 0 (all 0)
