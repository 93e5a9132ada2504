"""The attention LSTM decoder, written with plain TensorFlow ops.

It reproduces the math and the variable names of the legacy seq2seq ``attention_decoder`` with
one attention head and an ``LSTMCell`` (no peepholes, cell clip, forget bias 1, state (c, h)),
as upstream attention_ocr builds it, so its checkpoints load. Written by hand because
``tf.compat.v1.nn.rnn_cell.LSTMCell`` refuses to run under Keras 3 and the legacy decoder no
longer ships with TensorFlow.

Per step i (attention states H: [B, N, D], hidden features F = H W_attn):
    x_i      = [inp_i, attn_{i-1}] K_in + b_in          (kernel/bias; inp_i is a one-hot char)
    c, h     = LSTM(x_i, (c, h))                         (lstm_cell/kernel, lstm_cell/bias)
    a_i      = softmax_n(v . tanh(F_n + [c, h] K_q + b_q))   (AttnW_0, AttnV_0, Attention_0/*)
    attn_i   = sum_n a_i[n] H_n
    out_i    = [h, attn_i] K_out + b_out                 (AttnOutputProjection/*)
The caller turns out_i into character logits and picks the next input (``next_input``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from plateocr.model.compat import tf, tf1


class DecoderOutputs(NamedTuple):
    outputs: list  # L tensors [B, lstm_units]
    attention_weights: list  # L tensors [B, N]


def _linear_variables(input_size: int, output_size: int, scope: str | None = None):
    """Kernel and bias named like the legacy core_rnn_cell ``_Linear`` (glorot kernel, zero bias)."""
    with tf1.variable_scope(scope or tf1.get_variable_scope()):
        kernel = tf1.get_variable(
            "kernel", [input_size, output_size], initializer=tf1.glorot_uniform_initializer()
        )
        bias = tf1.get_variable("bias", [output_size], initializer=tf1.zeros_initializer())
    return kernel, bias


@tf.custom_gradient
def attention_energies(hidden_features, query, v):
    """v . tanh(F + q) over the positions: [B, N, D], [B, D], [D] -> [B, N].

    Same values and gradients as the plain ops, but the [B, N, D] tanh is recomputed in the
    backward pass instead of being kept for every decoder step (at batch 32 on 200x200 inputs
    that is 10 x 18 MB held from the forward to the backward pass).
    """
    depth = v.shape[0]

    def energies(features):
        return tf.tanh(features + query[:, None, :])

    scores = tf.squeeze(tf.tensordot(energies(hidden_features), v[:, None], 1), axis=2)

    def grad(d_scores):
        # The control dependency keeps grappler from merging this with the forward tanh.
        with tf.control_dependencies([d_scores]):
            t = energies(tf.identity(hidden_features))
        d_pre = (d_scores[:, :, None] * v) * (1.0 - tf.square(t))
        d_v = tf.matmul(tf.reshape(d_scores, [1, -1]), tf.reshape(t, [-1, depth]))[0]
        return d_pre, tf.reduce_sum(d_pre, axis=1), d_v

    return scores, grad


def attention_decoder(
    attention_states,
    first_input,
    num_steps: int,
    num_units: int,
    cell_clip: float | None,
    next_input: Callable[[int, "tf.Tensor"], "tf.Tensor"],
    scope: str = "attention_decoder",
) -> DecoderOutputs:
    """Unroll the decoder for ``num_steps`` steps.

    attention_states: [B, N, D] with N and D known statically; first_input: [B, C];
    next_input(i, out_{i-1}) -> [B, C]: the input of step i >= 1 (teacher forcing or greedy).
    """
    _, attn_length, attn_size = attention_states.shape.as_list()
    if attn_length is None or attn_size is None:
        raise ValueError(f"attention states need a static shape, got {attention_states.shape}")
    input_size = first_input.shape.as_list()[1]
    batch_size = tf.shape(attention_states)[0]

    with tf1.variable_scope(scope):
        attn_w = tf1.get_variable(
            "AttnW_0", [1, 1, attn_size, attn_size], initializer=tf1.glorot_uniform_initializer()
        )
        attn_v = tf1.get_variable(
            "AttnV_0", [attn_size], initializer=tf1.glorot_uniform_initializer()
        )
        in_kernel, in_bias = _linear_variables(input_size + attn_size, input_size)
        with tf1.variable_scope("lstm_cell"):
            lstm_kernel = tf1.get_variable(
                "kernel", [input_size + num_units, 4 * num_units],
                initializer=tf1.orthogonal_initializer(),
            )
            lstm_bias = tf1.get_variable(
                "bias", [4 * num_units], initializer=tf1.zeros_initializer()
            )
        query_kernel, query_bias = _linear_variables(2 * num_units, attn_size, "Attention_0")
        out_kernel, out_bias = _linear_variables(num_units + attn_size, num_units, "AttnOutputProjection")

        # W_attn H for all positions once: the legacy 1x1 convolution is this matmul.
        flat_states = tf.reshape(attention_states, [-1, attn_size])
        hidden_features = tf.reshape(
            tf.matmul(flat_states, tf.reshape(attn_w, [attn_size, attn_size])),
            [-1, attn_length, attn_size],
        )

        v = tf.convert_to_tensor(attn_v)

        def attention(c, h):
            query = tf.matmul(tf.concat([c, h], 1), query_kernel) + query_bias
            weights = tf.nn.softmax(attention_energies(hidden_features, query, v))  # [B, N]
            read = tf.matmul(weights[:, None, :], attention_states)[:, 0, :]  # [B, D]
            return weights, read

        c = tf.zeros(tf.stack([batch_size, num_units]))
        h = tf.zeros(tf.stack([batch_size, num_units]))
        attn = tf.zeros(tf.stack([batch_size, attn_size]))
        attn.set_shape([None, attn_size])
        inp = first_input
        outputs, all_weights = [], []
        for i in range(num_steps):
            if i > 0:
                inp = next_input(i, outputs[-1])
            x = tf.matmul(tf.concat([inp, attn], 1), in_kernel) + in_bias
            gates = tf.nn.bias_add(tf.matmul(tf.concat([x, h], 1), lstm_kernel), lstm_bias)
            gate_i, gate_j, gate_f, gate_o = tf.split(gates, 4, axis=1)
            c = tf.sigmoid(gate_f + 1.0) * c + tf.sigmoid(gate_i) * tf.tanh(gate_j)
            if cell_clip is not None:
                c = tf.clip_by_value(c, -cell_clip, cell_clip)
            h = tf.sigmoid(gate_o) * tf.tanh(c)
            weights, attn = attention(c, h)
            out = tf.matmul(tf.concat([h, attn], 1), out_kernel) + out_bias
            outputs.append(out)
            all_weights.append(weights)
    return DecoderOutputs(outputs, all_weights)
