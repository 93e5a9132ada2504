"""The tf-slim compatibility shim: fails loudly if a TensorFlow / tf_keras release breaks it."""

import sys

import numpy as np

from plateocr.model.compat import inception_v3, slim, tf, tf1


def test_legacy_layer_modules_resolve():
    import tf_keras.legacy_tf_layers.normalization as normalization  # the path tf-slim uses

    assert hasattr(normalization, "BatchNormalization")
    assert "tf_slim" in sys.modules


def test_slim_conv_batch_norm_and_inception_train_one_step():
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(1)
        images = tf1.placeholder(tf.float32, [2, 48, 48, 3])
        with slim.arg_scope(inception_v3.inception_v3_arg_scope(batch_norm_decay=0.5)):
            with slim.arg_scope([slim.batch_norm], is_training=True):
                net = slim.conv2d(images, 8, [3, 3], scope="extra_conv")
                net = tf.concat([net, images[:, :, :, :1]], axis=3)
                tower, endpoints = inception_v3.inception_v3_base(
                    images, final_endpoint="Conv2d_4a_3x3", scope="InceptionV3"
                )
        assert tower.shape.as_list() == [2, 8, 8, 192]  # 48 -> 23 -> 21 -> 21 -> 10 -> 10 -> 8
        assert "Conv2d_2b_3x3" in endpoints
        # batch norm made moving statistics (model variables) and update ops
        moving = [v for v in tf1.model_variables() if "moving_" in v.op.name]
        assert len(moving) == 2 * 6  # extra_conv + 5 InceptionV3 convolutions
        update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
        assert len(update_ops) == len(moving)
        assert len(tf1.losses.get_regularization_losses()) == 6
        loss = tf.reduce_mean(tf.square(tower)) + tf.reduce_mean(net)
        with tf.control_dependencies(update_ops):
            train_op = tf1.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
        mean_var = [v for v in moving if v.op.name == "InceptionV3/Conv2d_1a_3x3/BatchNorm/moving_mean"][0]
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            batch = np.random.default_rng(0).random((2, 48, 48, 3), dtype=np.float32)
            loss_value, _ = sess.run([loss, train_op], {images: batch})
            assert np.isfinite(loss_value)
            assert np.any(sess.run(mean_var) != 0.0)  # the moving average was updated


def test_tensorflow_start_up_is_quiet_by_default():
    # Users see plateocr's own output, not the CUDA stub's or cuInit's chatter on CPU machines.
    import subprocess
    import sys

    code = (
        "from plateocr.model.compat import tf, tf1\n"
        "g = tf.Graph()\n"
        "with g.as_default():\n"
        "    x = tf.constant(1) + 1\n"
        "    with tf1.Session(graph=g) as s: print(s.run(x))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "2"
    assert out.stderr.strip() == "", out.stderr[:500]


def _after_import(env_changes: dict) -> dict:
    """What a fresh process reports after importing the shim, its environment changed so."""
    import json
    import os
    import subprocess

    code = (
        "import json, os\n"
        "from plateocr.model.compat import tf\n"
        "from tensorflow.python.util import _pywrap_util_port\n"
        "print(json.dumps({'env': {k: os.environ.get(k) for k in "
        "('TF_CPP_MIN_LOG_LEVEL', 'TF_ENABLE_ONEDNN_OPTS', 'TF_USE_LEGACY_KERAS')}, "
        "'onednn': _pywrap_util_port.IsMklEnabled(), 'keras': tf.keras.Sequential.__module__}))\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "TF_USE_LEGACY_KERAS")
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, **env_changes}, timeout=120
    )
    assert out.returncode == 0, out.stderr[-1000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_tensorflow_settings_apply_to_its_import_and_leave_the_environment_as_it_was():
    report = _after_import({})
    assert report["env"] == {"TF_CPP_MIN_LOG_LEVEL": None, "TF_ENABLE_ONEDNN_OPTS": None, "TF_USE_LEGACY_KERAS": None}
    assert report["onednn"] is True  # read during the import
    assert report["keras"].startswith("tf_keras.")  # and tf.keras chose tf_keras then, not Keras 3
    # a user's own choice is kept, and is what TensorFlow reads
    report = _after_import({"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert report["env"]["TF_ENABLE_ONEDNN_OPTS"] == "0" and report["onednn"] is False
