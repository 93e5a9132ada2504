"""Training's precision (`train --precision`): float32, or bfloat16 mixed precision through
oneDNN's graph rewrite, where variables stay float32. Eval, val scoring and reading stay float32
(PLATEOCR_BF16 sets those sessions, see model/compat.py)."""

from __future__ import annotations


def uses_bf16(precision: str) -> bool:
    """Whether `precision` (auto, float32, bfloat16) trains in bfloat16 mixed precision: auto
    does where the CPU computes bfloat16 natively (AVX512-BF16, AMX), where it is faster."""
    from plateocr.model.compat import bf16_is_native

    return precision == "bfloat16" or (precision == "auto" and bf16_is_native())


def describe(precision: str) -> str:
    """For people: what `precision` trains in here, and why."""
    if precision == "auto":
        native = uses_bf16("auto")
        why = "this CPU computes bfloat16 natively" if native else "no native bfloat16 on this CPU"
        return f"{'bfloat16 mixed' if native else 'float32'} (auto: {why}; --precision to choose)"
    return "bfloat16 mixed (--precision bfloat16)" if precision == "bfloat16" else "float32 (--precision float32)"


def training_session_config(precision: str):
    """compat.session_config() with the bfloat16 rewrite on or off as `precision` says (set here
    rather than in compat.py, whose source is part of the stored TFLite models' key)."""
    from tensorflow.core.protobuf import rewriter_config_pb2

    from plateocr.model.compat import session_config

    config = session_config()
    toggle = rewriter_config_pb2.RewriterConfig
    rewrite = config.graph_options.rewrite_options
    rewrite.auto_mixed_precision_onednn_bfloat16 = toggle.ON if uses_bf16(precision) else toggle.OFF
    return config
