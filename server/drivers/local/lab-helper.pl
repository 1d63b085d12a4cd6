#!/usr/bin/perl
# Atelier local driver: the only code that runs as root on the way into a lab.
#
# Why a helper rather than `sh` + `prlimit` + `setpriv` + `nsenter`:
#  - it places ITSELF in the lab's cgroups before it can fork (no race, no shell);
#  - entering a user namespace resets the capability bounding set to "all" (kernel
#    set_cred_user_ns), and an exec under an unmapped euid loses every capability, so
#    nothing exec'd after `nsenter --user` can drop the bounding set any more; this helper
#    drops it (PR_CAPBSET_DROP) after setns and before switching to the lab user;
#  - the lab's environment never reaches a root process: the helper runs with an environment
#    holding only ATELIER_ENV (hex of NUL-separated KEY=VALUE), decoded after privileges are gone;
#  - it loads the labs' seccomp filter (ATELIER_SECCOMP: hex of the BPF program seccomp-bpf.py
#    compiled) into what it starts in a lab, as bwrap does for the sandbox: no process of a lab
#    runs without it;
#  - it starts bwrap in a mount namespace of its own, so the lab's devpts instance (with a `max`)
#    and the gateway's neutral handle are set up by root and vanish with the lab.
# Only perl core builtins are used (no module), so `perl-base` suffices and startup is ~3 ms.
#
# usage: perl lab-helper.pl <arch> <mode> [options] -- argv...
#   mode start: --uid=U --gid=G --ptys=MAX [--fds=N] [--gateway-fd=FD]; setgroups([]) +
#               setresgid/setresuid(U) on the host, exec argv (bwrap) with descriptors 0..N-1
#               (default 7: bwrap's 3-6). --ptys: a private mount namespace where /dev/pts is a new
#               devpts instance of at most MAX ptys (bwrap binds it into the lab) and the host's
#               mounts below /proc are gone; --gateway-fd: FD
#               (an O_PATH handle of the gateway socket) becomes a detached clone of its mount, so
#               that from inside the lab its link reads "/" instead of the server's data directory
#   mode enter: --target=PID --uid=1000 --gid=1000 --wd=DIR; join every namespace of PID, chroot to
#               its root, fork (pid ns), drop the bounding set, become uid/gid, no_new_privs, the
#               seccomp filter of ATELIER_SECCOMP, exec argv
#   common:     --cgroup=FILE (cgroup.procs, repeatable), --rlimit=RES:SOFT:HARD (repeatable)
use strict;
use warnings;

my %NR = (
  x64   => { setns => 308, prctl => 157, setresuid => 117, setresgid => 119, setgroups => 116, prlimit64 => 302, close_range => 436,
             unshare => 272, mount => 165, umount2 => 166, open_tree => 428, dup3 => 292 },
  arm64 => { setns => 268, prctl => 167, setresuid => 147, setresgid => 149, setgroups => 159, prlimit64 => 261, close_range => 436,
             unshare => 97, mount => 40, umount2 => 39, open_tree => 428, dup3 => 24 },
);
my %RLIMIT = (fsize => 1, core => 4, nproc => 6, nofile => 7, as => 9);
my %NSTYPE = (user => 0x10000000, cgroup => 0x02000000, ipc => 0x08000000, uts => 0x04000000,
              net => 0x40000000, pid => 0x20000000, mnt => 0x00020000);

sub fail { print STDERR "atelier-lab-helper: @_\n"; exit 125; }

my $arch = shift @ARGV // fail('missing arch');
my $nr = $NR{$arch} or fail("unsupported architecture $arch");
my $mode = shift @ARGV // fail('missing mode');
my (@cgroups, @rlimits, %opt);
while (@ARGV) {
  my $a = shift @ARGV;
  last if $a eq '--';
  if ($a =~ /^--cgroup=(.+)$/) { push @cgroups, $1 }
  elsif ($a =~ /^--rlimit=(\w+):(\d+):(\d+)$/) { push @rlimits, [$1, $2, $3] }
  elsif ($a =~ /^--(uid|gid|target|wd|fds|ptys|gateway-fd)=(.+)$/) { $opt{$1} = $2 }
  else { fail("bad option $a") }
}
my @argv = @ARGV;
fail('missing command') unless @argv;
# The entry's child is visible inside the lab until its exec: its command line must not name the
# helper's path (the project's directory on the host).
$0 = 'atelier-lab-helper';
defined $opt{$_} && $opt{$_} =~ /^\d+$/ or fail("missing --$_") for qw(uid gid);

# Decode the lab environment now, apply it only right before the final exec.
my %labenv;
for my $kv (split /\0/, pack('H*', $ENV{ATELIER_ENV} // '')) {
  my ($k, $v) = split /=/, $kv, 2;
  $labenv{$k} = $v if defined $v && length $k;
}
my $seccomp = pack('H*', $ENV{ATELIER_SECCOMP} // '');
%ENV = ();

# 1. Into the lab's cgroups before anything can fork.
for my $f (@cgroups) {
  open(my $fh, '>>', $f) or fail("cannot open $f: $!");
  syswrite($fh, "$$\n") or fail("cannot join cgroup $f: $!");
  close($fh) or fail("cannot join cgroup $f: $!");
}
# 2. Resource limits, inherited by everything below.
for my $r (@rlimits) {
  my $res = $RLIMIT{$r->[0]} // fail("unknown rlimit $r->[0]");
  syscall($nr->{prlimit64}, 0, $res, pack('QQ', $r->[1], $r->[2]), 0) == 0
    or fail("setrlimit $r->[0]: $!");
}
# 3. No supplementary group of root may follow us (setgroups is denied inside the lab's userns).
syscall($nr->{setgroups}, 0, 0) == 0 or fail("setgroups: $!");

sub drop_to {
  my ($uid, $gid) = @_;
  syscall($nr->{setresgid}, $gid + 0, $gid + 0, $gid + 0) == 0 or fail("setresgid: $!");
  syscall($nr->{setresuid}, $uid + 0, $uid + 0, $uid + 0) == 0 or fail("setresuid: $!");
  syscall($nr->{prctl}, 38, 1, 0, 0, 0) == 0 or fail("no_new_privs: $!");    # PR_SET_NO_NEW_PRIVS
}

# Close every inherited descriptor from $first up: whatever the server's own parent leaked into it
# must not reach the lab (node's own descriptors are close-on-exec already).
sub close_from {
  my ($first) = @_;
  return if syscall($nr->{close_range}, $first + 0, 0xFFFFFFFF, 0) == 0;
  opendir(my $d, '/proc/self/fd') or fail("cannot list /proc/self/fd: $!");
  my @fds = grep { /^\d+$/ && $_ >= $first && $_ != fileno($d) } readdir($d);
  closedir($d);
  for my $fd (@fds) { my $fh; open($fh, "<&=", $fd) and close($fh); }
}

# Load the labs' seccomp filter (after no_new_privs, which an unprivileged load requires).
sub load_seccomp {
  my $n = length($seccomp) / 8;
  fail('missing or malformed seccomp filter') unless $n >= 1 && $n <= 4096 && length($seccomp) % 8 == 0;
  my $prog = pack('S x![P] P', $n, $seccomp);    # struct sock_fprog { unsigned short len; filter * }
  syscall($nr->{prctl}, 22, 2, $prog, 0, 0) == 0 or fail("seccomp: $!");    # PR_SET_SECCOMP, FILTER
}

# A mount namespace for this lab only (private propagation: nothing reaches the host's), where
# /dev/pts is a devpts instance of at most $max ptys; bwrap binds it over the lab's /dev/pts.
sub private_mounts {
  my ($max) = @_;
  fail('bad --ptys') unless $max =~ /^\d+$/ && $max >= 1 && $max <= 4096;
  syscall($nr->{unshare}, 0x00020000) == 0 or fail("unshare mount namespace: $!");    # CLONE_NEWNS
  my ($none, $root) = ('none', '/');
  syscall($nr->{mount}, $none, $root, 0, 0x4000 | 0x40000, 0) == 0 or fail("private mounts: $!");    # MS_REC|MS_PRIVATE
  # bwrap binds parts of the host's /proc read-only, recursively: what the host mounts below it
  # (binfmt_misc, systemd's automount point for it) must not follow into the lab.
  open(my $mi, '<', '/proc/self/mountinfo') or fail("mountinfo: $!");
  my @below;
  while (my $line = <$mi>) {
    my $point = (split / /, $line)[4] // next;
    $point =~ s/\\([0-7]{3})/chr(oct($1))/ge;
    push @below, $point if $point =~ m{^/proc/.};
  }
  close($mi);
  for my $point (sort { length($b) <=> length($a) } @below) {
    syscall($nr->{umount2}, $point, 2) == 0 or $!{EINVAL} or $!{ENOENT} or fail("umount $point: $!");    # MNT_DETACH
  }
  my ($src, $dst, $type, $data) = ('devpts', '/dev/pts', 'devpts', "newinstance,ptmxmode=0666,mode=0620,max=$max");
  syscall($nr->{mount}, $src, $dst, $type, 2 | 8, $data) == 0 or fail("devpts: $!");    # MS_NOSUID|MS_NOEXEC
}

# Replace descriptor $fd (the gateway socket, opened by path in the data directory) by a detached
# clone of its mount rooted at the socket: it still connects, and names no host directory.
sub neutral_gateway {
  my ($fd) = @_;
  fail('bad --gateway-fd') unless $fd =~ /^\d+$/ && $fd >= 3;
  my $path = "/proc/self/fd/$fd";
  my $clone = syscall($nr->{open_tree}, -100, $path, 1);    # AT_FDCWD, OPEN_TREE_CLONE
  fail("open_tree gateway: $!") if $clone < 0;
  syscall($nr->{dup3}, $clone, $fd + 0, 0) == $fd or fail("dup3 gateway: $!");
  my $fh;
  open($fh, '<&=', $clone) and close($fh);
}

sub run {
  my ($keep) = @_;
  close_from($keep);
  my $ppid = getppid();
  syscall($nr->{prctl}, 1, 9, 0, 0, 0);    # PR_SET_PDEATHSIG SIGKILL (after the uid change)
  exit 125 if getppid() != $ppid;
  %ENV = %labenv;
  { no warnings 'exec'; exec { $argv[0] } @argv; }
  fail("cannot execute $argv[0]: $!");
}

if ($mode eq 'start') {
  my $fds = $opt{fds} // 7;
  fail('bad --fds') unless $fds =~ /^\d+$/ && $fds >= 3 && $fds <= 64;
  # Before the mount namespace changes: open_tree clones only mounts of the caller's namespace.
  neutral_gateway($opt{'gateway-fd'}) if defined $opt{'gateway-fd'};
  # Mandatory: bwrap binds /dev/pts from here, which would otherwise be the host's instance.
  private_mounts($opt{ptys} // fail('missing --ptys'));
  drop_to($opt{uid}, $opt{gid});
  run($fds);    # bwrap needs 3 (info) and 4-6 (passwd, group, hosts); 7-8 (gateway socket, forwarder)
}
fail("unknown mode $mode") unless $mode eq 'enter';

my $target = $opt{target} // fail('missing --target');
fail('bad --target') unless $target =~ /^\d+$/;
my %fh;
for my $ns (qw(user cgroup ipc uts net pid mnt)) {
  open($fh{$ns}, '<', "/proc/$target/ns/$ns") or fail("lab is not running (ns/$ns: $!)");
}
opendir(my $root, "/proc/$target/root") or fail("lab is not running (root: $!)");
# The user namespace goes last: with --disable-userns, bwrap's other namespaces belong to an outer
# user namespace, which a process already inside the lab's (nested) one could not join. As host
# root we can join them all first, then the lab's user namespace, which grants full capabilities
# there and resets the bounding set (dropped below).
for my $ns (qw(cgroup ipc uts net pid mnt)) {
  syscall($nr->{setns}, fileno($fh{$ns}), $NSTYPE{$ns}) == 0 or fail("setns $ns: $!");
  close($fh{$ns});
}
chdir($root) or fail("fchdir root: $!");
chroot('.') or fail("chroot: $!");
closedir($root);
syscall($nr->{setns}, fileno($fh{user}), $NSTYPE{user}) == 0 or fail("setns user: $!");
close($fh{user});

my $pid = fork() // fail("fork: $!");
if ($pid == 0) {
  # Inside the lab's pid namespace. Drop every capability from the bounding set first
  # (we hold CAP_SETPCAP in the lab's userns right after setns), then become the lab user.
  for my $cap (0 .. 63) { last if syscall($nr->{prctl}, 24, $cap, 0, 0, 0) != 0; }    # PR_CAPBSET_DROP
  drop_to($opt{uid}, $opt{gid});
  load_seccomp();
  my $wd = $opt{wd} // '/';
  chdir($wd) or chdir($labenv{HOME} // '/') or chdir('/');
  $labenv{PWD} = $wd if defined $opt{wd};
  run(3);
}
# Parent: stays outside the lab's pid namespace, relays signals and the exit status.
# (Ctrl-C reaches the lab's foreground job through the terminal, not through us.)
$SIG{INT} = $SIG{QUIT} = 'IGNORE';
# HUP (terminal closed) is passed on; TERM means "kill it" (exec timeout): SIGKILL the child and
# reap it here, so that no zombie of the lab is left for the host's init to reap.
$SIG{HUP} = sub { kill 'HUP', $pid };
$SIG{TERM} = sub { kill 'KILL', $pid };
while (1) {
  my $w = waitpid($pid, 0);
  next if $w == -1 && $!{EINTR};
  last;
}
my $st = $?;
exit($st & 127 ? 128 + ($st & 127) : $st >> 8);
