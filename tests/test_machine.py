"""engine/machine.py: what a report records about the machine, from one reading of /proc/cpuinfo."""

import io

from colorfuse.engine import machine

CPUINFO = ("processor : 0\nphysical id : 0\ncore id : 0\nmodel name : Test CPU 9000\nflags : fpu avx2 avx512f\n\n"
           "processor : 1\nphysical id : 0\ncore id : 0\nmodel name : Test CPU 9000\nflags : fpu avx2 avx512f\n\n"
           "processor : 2\nphysical id : 0\ncore id : 1\nmodel name : Test CPU 9000\nflags : fpu avx2 avx512f\n")


def test_model_cores_and_flags_come_from_cpuinfo(monkeypatch):
    monkeypatch.setattr(machine, "open", lambda *args, **kwargs: io.StringIO(CPUINFO), raising=False)
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    summary = machine.machine_summary()
    assert summary["cpu"] == "Test CPU 9000" and set(summary) == {"cpu", "cores", "os", "python"}
    assert machine.physical_cores() == 2  # three logical CPUs on two cores
    assert machine.cpu_identity() == {"cpu": "Test CPU 9000", "cores": 2, "flags": ["avx2", "avx512f"]}


def test_without_cpuinfo_the_platform_names_the_cpu(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("/proc/cpuinfo")

    monkeypatch.setattr(machine, "open", missing, raising=False)
    assert machine.machine_summary()["cpu"]
    assert machine.cpu_identity()["flags"] == []
    assert machine.physical_cores() >= 1
