#!/usr/bin/python3
"""Compile the labs' seccomp filter to classic BPF on stdout (what `bwrap --seccomp FD` and
lab-helper.pl load).

The policy is Docker's default profile (seccomp-default.json, copied verbatim from
github.com/moby/profiles seccomp/default.json at cd3bed8061c7b7378b61fc6827c7885779417a75,
Apache-2.0: seccomp-default.json.license), i.e. Kubernetes' RuntimeDefault, read the way a container runtime reads it for a
process with no capability at all (lab processes have none), plus what Atelier denies on top:
ptrace and cross-process memory access even between a lab's own processes.

libseccomp (Debian's python3-seccomp, the library's own bindings) builds the BPF: no
hand-assembled filter. Usage: seccomp-bpf.py <x64|arm64> [profile.json]
"""
import errno
import json
import os
import platform
import sys

import seccomp

# node's process.arch -> (Docker's arch name, libseccomp's)
ARCHES = {
    'x64': ('amd64', seccomp.Arch.X86_64),
    'arm64': ('arm64', seccomp.Arch.AARCH64),
}

# Allowed by the default profile, denied in labs: a lab's processes all share one uid, so these
# would let any of them read or steer another (a check, a terminal's shell, the gateway).
ATELIER_DENIED = {'ptrace', 'process_vm_readv', 'process_vm_writev'}

# Must never be allowed unconditionally, whatever a newer copy of the profile says.
MUST_DENY = ATELIER_DENIED | {
    'pidfd_getfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'keyctl', 'add_key',
    'request_key', 'perf_event_open', 'bpf', 'mount', 'umount2', 'move_mount', 'open_tree',
    'fsopen', 'fsconfig', 'fsmount', 'fspick', 'pivot_root', 'unshare', 'setns', 'kexec_load',
    'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon',
    'swapoff', 'acct', 'settimeofday', 'clock_settime', 'userfaultfd', 'personality', 'clone',
    'clone3', 'chroot', 'kcmp', 'process_madvise', 'iopl', 'ioperm', 'syslog', 'quotactl',
    'open_by_handle_at', 'mount_setattr', 'lookup_dcookie', 'vhangup',
}

OPS = {
    'SCMP_CMP_EQ': seccomp.EQ, 'SCMP_CMP_NE': seccomp.NE, 'SCMP_CMP_LT': seccomp.LT,
    'SCMP_CMP_LE': seccomp.LE, 'SCMP_CMP_GT': seccomp.GT, 'SCMP_CMP_GE': seccomp.GE,
}


def kernel_at_least(version):
    want = [int(x) for x in version.split('.')]
    have = [int(x) for x in platform.release().split('-')[0].split('.')[:len(want)]]
    return have >= want


def applies(entry, arch):
    """Does a profile entry apply to a process with no capability on this architecture?"""
    inc = entry.get('includes') or {}
    exc = entry.get('excludes') or {}
    if inc.get('caps'):
        return False
    if inc.get('arches') and arch not in inc['arches']:
        return False
    if inc.get('minKernel') and not kernel_at_least(inc['minKernel']):
        return False
    return arch not in (exc.get('arches') or [])


def action(entry):
    if entry['action'] == 'SCMP_ACT_ALLOW':
        return seccomp.ALLOW
    if entry['action'] == 'SCMP_ACT_ERRNO':
        return seccomp.ERRNO(entry.get('errnoRet', errno.EPERM))
    raise SystemExit(f'seccomp-bpf: unsupported action {entry["action"]}')


def conditions(entry):
    out = []
    for a in entry.get('args') or []:
        if a['op'] == 'SCMP_CMP_MASKED_EQ':
            out.append(seccomp.Arg(a['index'], seccomp.MASKED_EQ, a['value'], a.get('valueTwo', 0)))
        else:
            out.append(seccomp.Arg(a['index'], OPS[a['op']], a['value']))
    return out


def build(node_arch, profile):
    docker_arch, scmp_arch = ARCHES[node_arch]
    default = seccomp.ERRNO(profile.get('defaultErrnoRet', errno.EPERM))
    f = seccomp.SyscallFilter(defaction=default)
    if not f.exist_arch(scmp_arch):
        f.add_arch(scmp_arch)
        f.remove_arch(seccomp.Arch.NATIVE)
    # Lab processes set no_new_privs themselves (bwrap, lab-helper.pl); the BPF is the same either way.
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    # A binary search over syscall numbers rather than ~350 comparisons in a row, on every call.
    f.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    unconditional = set()
    for entry in profile['syscalls']:
        if not applies(entry, docker_arch):
            continue
        act = action(entry)
        args = conditions(entry)
        for name in entry['names']:
            if name in ATELIER_DENIED:
                continue
            try:
                f.add_rule(act, name, *args)
            except (RuntimeError, ValueError):
                # A name this libseccomp does not know, or another architecture's call
                # (e.g. chown32): it stays denied by the default action.
                continue
            if act == seccomp.ALLOW and not args:
                unconditional.add(name)
    leaked = sorted(unconditional & MUST_DENY)
    if leaked:
        raise SystemExit(f'seccomp-bpf: the profile allows {", ".join(leaked)}')
    return f


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ARCHES:
        raise SystemExit(f'usage: seccomp-bpf.py <{"|".join(ARCHES)}> [profile.json]')
    path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'seccomp-default.json')
    with open(path, encoding='utf-8') as fh:
        profile = json.load(fh)
    f = build(sys.argv[1], profile)
    f.export_bpf(sys.stdout.buffer)
    sys.stdout.flush()


if __name__ == '__main__':
    main()
