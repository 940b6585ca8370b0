"""BitNet b1.58 (2B4T architecture) in PyTorch, quantization-aware (SPEC.md sections 2-4).

Latent weights are float32. In the forward pass every BitLinear ternarizes its weight per
tensor with absmean and quantizes its input per token to int8 with absmax, both with the
straight-through estimator, exactly the formulas tern uses at inference:
  beta = max(mean|W|, 1e-5),  W~ = clamp(round(W / beta), -1, 1)          (torch.round = half to even)
  gamma = max(max|x|, 1e-5),  s = 127 / gamma,  q = clamp(round(x * s), -128, 127)
  y = (q @ W~^T) * beta / s
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 256
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def to_dict(self):
        return asdict(self)


def weight_quant(w):
    """Absmean ternarization per tensor: returns (W~ in {-1,0,1}, beta)."""
    beta = w.abs().mean().clamp(min=1e-5)
    return (w / beta).round().clamp(-1, 1), beta


def act_quant(x):
    """Per-token absmax int8 quantization: returns (q as float holding int8 values, s)."""
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * s).round().clamp(-128, 127), s


class BitLinear(nn.Linear):
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, bias=False)

    def forward(self, x):
        wq, beta = weight_quant(self.weight)
        xq, s = act_quant(x)
        # straight-through estimator: forward uses the quantized values, backward the identity
        w = self.weight + (wq * beta - self.weight).detach()
        x = x + (xq / s - x).detach()
        return F.linear(x, w)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rope_tables(cfg, n, device=None):
    D = cfg.head_dim
    inv_freq = cfg.rope_theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv_freq[None, :]   # [n, D/2]
    return ang.cos().float().to(device), ang.sin().float().to(device)


def apply_rope(x, cos, sin):
    """NEOX rotation: pairs (i, i + D/2). x: [B, heads, T, D]."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H, nh, nkv, D = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.nh, self.nkv, self.D = nh, nkv, D
        self.q_proj = BitLinear(H, nh * D)
        self.k_proj = BitLinear(H, nkv * D)
        self.v_proj = BitLinear(H, nkv * D)
        self.o_proj = BitLinear(nh * D, H)
        self.attn_sub_norm = RMSNorm(nh * D, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.D).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        g = self.nh // self.nkv          # query head j uses kv head j // g
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.D)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        a = att.masked_fill(causal, float("-inf")).softmax(dim=-1) @ v
        a = a.transpose(1, 2).reshape(B, T, self.nh * self.D)
        return self.o_proj(self.attn_sub_norm(a))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H, I = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = BitLinear(H, I)
        self.up_proj = BitLinear(H, I)
        self.down_proj = BitLinear(I, H)
        self.ffn_sub_norm = RMSNorm(I, cfg.rms_norm_eps)

    def forward(self, x):
        f = F.relu(self.gate_proj(x)).square() * self.up_proj(x)
        return self.down_proj(self.ffn_sub_norm(f))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class BitNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        cos, sin = rope_tables(cfg, cfg.max_position_embeddings)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.embed_tokens(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for layer in self.layers:
            x = layer(x, cos, sin)
        return F.linear(self.norm(x), self.embed_tokens.weight)   # tied, full precision

    def hf_state_dict(self):
        """Tensors under their Hugging Face (2B4T) names, float32."""
        return {("model." + k): v.detach().float().contiguous() for k, v in self.state_dict().items()}
