import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from ganfill.core.errors import GanfillError
from ganfill.models import files as checkpoint
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import GANModel, build


def _perturb(module):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        for b in module.buffers():
            if b.is_floating_point():
                b.add_(torch.rand_like(b))


def test_model_file_round_trips_bit_exactly(tmp_path, tiny_models):
    G, D = tiny_models
    _perturb(G), _perturb(D)  # non-default buffers (BN statistics) must survive too
    path = checkpoint.save(tmp_path / "m.safetensors", GANModel.from_nets(G=G, D=D))
    loaded = checkpoint.load(path)
    assert loaded.config == G.config
    for a, b in ((G, loaded.G), (D, loaded.D)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    z = torch.randn(4, G.config.z_dim)
    G.eval(), D.eval()
    assert torch.equal(G(z), loaded.G(z)) and torch.equal(D(G(z)), loaded.D(G(z)))
    assert not loaded.G.training and not loaded.D.training


def test_fp16_export_loads_as_fp32_close(tmp_path, tiny_models):
    G, D = tiny_models
    path = checkpoint.save(tmp_path / "m16.safetensors", GANModel.from_nets(G=G, D=D), dtype=torch.float16)
    assert path.stat().st_size < checkpoint.save(tmp_path / "m32.safetensors", GANModel.from_nets(G=G, D=D)).stat().st_size * 0.6
    loaded = checkpoint.load(path)
    assert next(loaded.G.parameters()).dtype == torch.float32
    z = torch.randn(4, G.config.z_dim)
    torch.testing.assert_close(loaded.G(z), G.eval()(z), atol=2e-2, rtol=0)


def test_the_config_inside_the_file_rebuilds_other_presets(tmp_path):
    cfg = ModelConfig(arch="paper", resolution=64, z_dim=12, g_width=4, d_width=4)
    G, D = build(cfg)
    loaded = checkpoint.load(checkpoint.save(tmp_path / "p.safetensors", GANModel.from_nets(G=G, D=D)))
    assert loaded.config == cfg and isinstance(loaded.G.project[0], torch.nn.Linear)


def _bad_files(tmp_path, tiny_models):
    G, D = tiny_models
    good = checkpoint.save(tmp_path / "good.safetensors", GANModel.from_nets(G=G, D=D))
    text = tmp_path / "text.safetensors"
    text.write_text("this is not a checkpoint\n")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(foreign))
    incompatible = tmp_path / "incompatible.safetensors"
    G2, D2 = build(ModelConfig(resolution=32, z_dim=8, g_width=16, d_width=8))
    checkpoint.save(incompatible, GANModel.from_nets(G=G2, D=D2))
    raw = incompatible.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    cfg = json.loads(header["__metadata__"]["model_config"])
    header["__metadata__"]["model_config"] = json.dumps(cfg | {"g_width": 8})  # lies about its width
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    incompatible.write_bytes(len(new).to_bytes(8, "little") + new + raw[8 + n :])
    return {
        "text": text,
        "truncated": truncated,
        "foreign": foreign,
        "incompatible": incompatible,
        "missing": tmp_path / "nowhere.safetensors",
        "empty dir": tmp_path,
    }


@pytest.mark.parametrize(
    "kind, words",
    [
        ("text", "not a readable safetensors"),
        ("truncated", "not a readable safetensors"),
        ("foreign", "not a ganfill model"),
        ("incompatible", "does not match"),
        ("missing", "does not exist"),
        ("empty dir", "holds no checkpoint"),
    ],
)
def test_bad_checkpoints_are_clear_errors(tmp_path, tiny_models, kind, words):
    bad = _bad_files(tmp_path, tiny_models)[kind]
    with pytest.raises(GanfillError, match=words):
        checkpoint.load(bad)


def test_cli_reports_a_bad_checkpoint_in_one_line(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_text("garbage")
    out = tmp_path / "grid.png"
    proc = subprocess.run(
        [sys.executable, "-m", "ganfill", "sample", str(bad), "--out", str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("ganfill: error:")
    assert "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]
