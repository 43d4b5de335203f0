"""How many CPUs this process may use: its affinity mask and its cgroup's CPU quota.

OpenMP's default team size is the number of CPUs in the affinity mask; a container limited
by a CPU quota (``docker run --cpus=1``, a Kubernetes CPU limit, a CI runner) sees every CPU
of the host but may use only ``quota / period`` of them, and a team larger than that spends
its time waiting for the scheduler. This is the reading loky's ``cpu_count`` does: the
quota of the process's own cgroup and of every cgroup above it, in cgroup v2 (``cpu.max``)
and v1 (``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), found through /proc/self/cgroup and
/proc/self/mountinfo so that a nested group is read too, not only the root of the mount.
"""

import math
import os


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _mounts(root):
    """(mount point, root of the mount inside its hierarchy, fs type, super options) for
    each cgroup mount."""
    text = _read(os.path.join(root, "proc/self/mountinfo")) or ""
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            yield fields[4], fields[3], tail[0], set(tail[2].split(","))


def _quota_dirs(root):
    """For each hierarchy that can hold a CPU quota: the directory of this process's cgroup
    in it and the directory where the mount starts, and which version it is."""
    memberships = []
    for line in (_read(os.path.join(root, "proc/self/cgroup")) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            memberships.append((parts[1].split(",") if parts[1] else [], parts[2]))
    for mount_point, mount_root, fstype, options in _mounts(root):
        for controllers, path in memberships:
            v2 = fstype == "cgroup2" and controllers == []
            v1 = fstype == "cgroup" and "cpu" in controllers and "cpu" in options
            if not (v1 or v2):
                continue
            relative = os.path.relpath(path, mount_root)
            if relative.startswith(".."):
                continue    # this process's cgroup is outside what the mount shows
            top = os.path.join(root, mount_point.lstrip("/"))
            yield os.path.normpath(os.path.join(top, relative)), top, v2


def _quota_in(directory, v2):
    """CPUs allowed by the quota set on this one cgroup, or None if it sets none."""
    if v2:
        text = _read(os.path.join(directory, "cpu.max"))
        fields = text.split() if text else []
        if len(fields) == 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    quota = _read(os.path.join(directory, "cpu.cfs_quota_us"))
    period = _read(os.path.join(directory, "cpu.cfs_period_us"))
    if quota and period and int(quota) > 0 and int(period) > 0:
        return int(quota) / int(period)
    return None


def cgroup_cpu_limit(root="/"):
    """The smallest CPU quota on this process's cgroup and its ancestors, rounded up to whole
    CPUs, or None where no quota is set (or there are no cgroups, as on macOS and Windows).
    ``root`` lets tests point it at a fake /proc and /sys."""
    limits = []
    for directory, top, v2 in _quota_dirs(root):
        while True:
            try:
                quota = _quota_in(directory, v2)
            except ValueError:      # a file we cannot parse says nothing we can use
                quota = None
            if quota is not None:
                limits.append(quota)
            if directory == top or len(directory) <= len(top):
                break
            directory = os.path.dirname(directory)
    return max(1, math.ceil(min(limits))) if limits else None


def available_cpus(root="/"):
    """CPUs this process may run on: the affinity mask, capped by the cgroup quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:      # no affinity on macOS and Windows
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    return min(count, limit) if limit else count
