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
        kernel = tf1.get_variable("kernel", [input_size, output_size], initializer=tf1.glorot_uniform_initializer())
        bias = tf1.get_variable("bias", [output_size], initializer=tf1.zeros_initializer())
    return kernel, bias


@tf.custom_gradient
def attend(hidden_features, attention_states, query, v):
    """One attention read: softmax_n(v . tanh(F_n + q)) and the weighted sum of the states.

    hidden_features F [B, N, D], attention_states H [B, N, D], query q [B, D], v [D] ->
    (weights [B, N], read [B, D], F, H). The same values and gradients as the plain ops, with
    two memory savings that matter at batch 32 on 200x200 inputs (18 MB per [B, N, D]):

    - the [B, N, D] tanh is recomputed in the backward pass instead of being kept for every
      decoder step from the forward to the backward pass;
    - F and H are passed on to the next step, which takes them from this step's outputs, so
      their gradients reach step i as one running sum (from steps > i) to which step i adds
      its own term. Left to ``tf.gradients`` the L per-step terms would all be alive at once
      before one AddN, at the start of the backward pass, while every activation of the
      tower still is: 2 x 10 x 18 MB on top of the peak. The running sums are subtractions of
      negated terms (the same floats) because grappler's arithmetic optimizer folds chains of
      additions back into one AddN.
    """
    depth = v.shape[0]

    def energies(features):
        return tf.tanh(features + query[:, None, :])

    scores = tf.squeeze(tf.tensordot(energies(hidden_features), v[:, None], 1), axis=2)
    weights = tf.nn.softmax(scores)
    read = tf.matmul(weights[:, None, :], attention_states)[:, 0, :]

    def grad(d_weights, d_read, d_features_out, d_states_out):
        # d_weights is zero when only the read is used (training); kept for generality.
        d_weights = d_weights + tf.matmul(attention_states, d_read[:, :, None])[:, :, 0]
        d_scores = weights * (d_weights - tf.reduce_sum(d_weights * weights, axis=1, keepdims=True))
        # The [B, N, D] terms wait for the running sums of the later steps, so that those
        # steps' terms are added (and freed) first; the dependency on d_scores also keeps
        # grappler from merging this tanh with the forward one.
        with tf.control_dependencies([d_scores, d_features_out, d_states_out]):
            t = energies(tf.identity(hidden_features))
            neg_d_read_term = tf.matmul(-weights[:, :, None], d_read[:, None, :])
        neg_d_pre = (d_scores[:, :, None] * -v) * (1.0 - tf.square(t))
        d_query = -tf.reduce_sum(neg_d_pre, axis=1)
        d_v = tf.matmul(tf.reshape(d_scores, [1, -1]), tf.reshape(t, [-1, depth]))[0]
        d_features = d_features_out - neg_d_pre
        d_states = d_states_out - neg_d_read_term
        return d_features, d_states, d_query, d_v

    return (weights, read, tf.identity(hidden_features), tf.identity(attention_states)), grad


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
        attn_w = tf1.get_variable("AttnW_0", [1, 1, attn_size, attn_size], initializer=tf1.glorot_uniform_initializer())
        attn_v = tf1.get_variable("AttnV_0", [attn_size], initializer=tf1.glorot_uniform_initializer())
        in_kernel, in_bias = _linear_variables(input_size + attn_size, input_size)
        with tf1.variable_scope("lstm_cell"):
            lstm_kernel = tf1.get_variable(
                "kernel",
                [input_size + num_units, 4 * num_units],
                initializer=tf1.orthogonal_initializer(),
            )
            lstm_bias = tf1.get_variable("bias", [4 * num_units], initializer=tf1.zeros_initializer())
        query_kernel, query_bias = _linear_variables(2 * num_units, attn_size, "Attention_0")
        out_kernel, out_bias = _linear_variables(num_units + attn_size, num_units, "AttnOutputProjection")

        # W_attn H for all positions once: the legacy 1x1 convolution is this matmul.
        flat_states = tf.reshape(attention_states, [-1, attn_size])
        hidden_features = tf.reshape(
            tf.matmul(flat_states, tf.reshape(attn_w, [attn_size, attn_size])),
            [-1, attn_length, attn_size],
        )

        v = tf.convert_to_tensor(attn_v)

        # Each step reads F and H from the previous step's attend() (see its docstring).
        carried = [hidden_features, attention_states]

        def attention(c, h):
            query = tf.matmul(tf.concat([c, h], 1), query_kernel) + query_bias
            weights, read, carried[0], carried[1] = attend(carried[0], carried[1], query, v)
            return weights, read  # [B, N], [B, D]

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
