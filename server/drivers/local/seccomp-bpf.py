#!/usr/bin/python3
"""Compile the labs' seccomp filter to classic BPF on stdout (what `bwrap --seccomp FD` and
lab-helper.pl load). Usage: seccomp-bpf.py <x64|arm64> [--policy]
(--policy prints the decision for every known call as JSON instead, for tests and reviews).

The policy is Atelier's own, written to deny what a container runtime's default profile
(Kubernetes' RuntimeDefault) denies to a process with no capability, and a little more:

- every call this libseccomp knows for the architecture is allowed, except those in DENIED
  (EPERM) and the argument-filtered ones below;
- a call it does not know (one newer than the library) answers ENOSYS, as for a kernel that
  lacks it, so new kernel surface is closed until the library knows it and someone decides;
- calls of another ABI on the same machine (x32, i386 on x86_64; arm32 on aarch64) kill the
  process: the filter only speaks the native one.

libseccomp (Debian's python3-seccomp, the library's own bindings) builds the BPF: no
hand-assembled filter.
"""
import errno
import json
import sys

import seccomp

# node's process.arch -> libseccomp's architecture
ARCHES = {'x64': seccomp.Arch.X86_64, 'arm64': seccomp.Arch.AARCH64}

DENIED = {
    # Reading or steering another process: a lab's processes share one uid, so any of them
    # could otherwise take over a check, a terminal's shell or the gateway forwarder.
    'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'kcmp', 'process_madvise',
    # Kernel surface with a long record of privilege escalations, unneeded by a shell or Python.
    'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'bpf', 'perf_event_open',
    'userfaultfd', 'keyctl', 'add_key', 'request_key', 'lookup_dcookie', 'fanotify_init',
    'open_by_handle_at',
    # Mounts and namespaces: the sandbox is built before the filter; nothing in it rebuilds one.
    'mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen',
    'fsconfig', 'fsmount', 'fspick', 'pivot_root', 'chroot', 'unshare', 'setns',
    # The machine itself: modules, kexec, reboot, swap, clocks, quotas, accounting, the console.
    'init_module', 'finit_module', 'delete_module', 'create_module', 'query_module',
    'get_kernel_syms', 'kexec_load', 'kexec_file_load', 'reboot', 'swapon', 'swapoff',
    'settimeofday', 'clock_settime', 'stime', 'quotactl', 'quotactl_fd', 'acct', 'syslog',
    'vhangup', 'iopl', 'ioperm', 'sethostname', 'setdomainname', 'nfsservctl', 'uselib',
    'ustat', 'sysfs', '_sysctl', 'vm86', 'vm86old',
    # Memory placement across NUMA nodes (needs CAP_SYS_NICE elsewhere too).
    'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'migrate_pages', 'move_pages',
}

# clone: allowed unless it asks for a new namespace (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|
# NEWUSER|NEWPID|NEWNET); flags are the first argument on x86_64 and aarch64.
CLONE_NEW_MASK = 0x7E020000
# personality: only the values programs use (Linux, 32-bit Linux, UNAME26, both, and the query);
# READ_IMPLIES_EXEC and ADDR_NO_RANDOMIZE would weaken the lab's own memory protections. Other
# values get the default ENOSYS (one rule cannot say "EPERM unless one of these").
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# socket: every family but AF_ALG (38: kernel crypto, a source of exploits) and AF_VSOCK (40).
SOCKET_DENIED = (38, 40)

SPECIAL = {'clone', 'clone3', 'personality', 'socket'}


def known_calls(arch):
    """Every call name libseccomp resolves for `arch` (numbers are dense below ~1024)."""
    names = set()
    for number in range(1024):
        try:
            names.add(seccomp.resolve_syscall(arch, number).decode())
        except (ValueError, RuntimeError):
            continue
    return names


def build(node_arch):
    arch = ARCHES[node_arch]
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.ENOSYS))
    if not f.exist_arch(arch):
        f.add_arch(arch)
        f.remove_arch(seccomp.Arch.NATIVE)
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    # Lab processes set no_new_privs themselves (bwrap, lab-helper.pl); the BPF is the same either way.
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    # A binary search over call numbers rather than hundreds of comparisons in a row, on every call.
    f.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    known = known_calls(arch)
    for name in sorted(known - SPECIAL):
        f.add_rule(seccomp.ERRNO(errno.EPERM) if name in DENIED else seccomp.ALLOW, name)
    f.add_rule(seccomp.ALLOW, 'clone', seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEW_MASK, 0))
    f.add_rule(seccomp.ERRNO(errno.EPERM), 'clone', seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEW_MASK, CLONE_NEW_MASK))
    # clone3 (in SPECIAL, so no rule) passes its flags in memory, which a filter cannot read: it
    # takes the default ENOSYS, and glibc falls back to clone.
    for value in PERSONALITIES:
        f.add_rule(seccomp.ALLOW, 'personality', seccomp.Arg(0, seccomp.EQ, value))
    af_alg, af_vsock = SOCKET_DENIED
    f.add_rule(seccomp.ALLOW, 'socket', seccomp.Arg(0, seccomp.LT, af_alg))
    # One comparison per argument and rule (libseccomp): the one family between the two.
    f.add_rule(seccomp.ALLOW, 'socket', seccomp.Arg(0, seccomp.EQ, af_alg + 1))
    f.add_rule(seccomp.ALLOW, 'socket', seccomp.Arg(0, seccomp.GT, af_vsock))
    for family in SOCKET_DENIED:
        f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), 'socket', seccomp.Arg(0, seccomp.EQ, family))
    return f


def policy(node_arch):
    """Name -> what a call without special arguments gets: allow, EPERM, or filtered by argument."""
    known = known_calls(ARCHES[node_arch])
    return {name: 'by-argument' if name in SPECIAL else 'EPERM' if name in DENIED else 'allow' for name in sorted(known)}


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in ARCHES or sys.argv[2:] not in ([], ['--policy']):
        raise SystemExit(f'usage: seccomp-bpf.py <{"|".join(ARCHES)}> [--policy]')
    if sys.argv[2:] == ['--policy']:
        json.dump(policy(sys.argv[1]), sys.stdout)
        return
    build(sys.argv[1]).export_bpf(sys.stdout.buffer)
    sys.stdout.flush()


if __name__ == '__main__':
    main()
