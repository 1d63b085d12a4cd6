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
#    holding only ATELIER_ENV (hex of NUL-separated KEY=VALUE), decoded after privileges are gone.
# Only perl core builtins are used (no module), so `perl-base` suffices and startup is ~3 ms.
#
# usage: perl lab-helper.pl <arch> <mode> [options] -- argv...
#   mode start: --uid=U --gid=G [--fds=N]; setgroups([]) + setresgid/setresuid(U) on the host, exec
#               argv (bwrap) with descriptors 0..N-1 (default 7: bwrap's 3-6; 9 with a lab gateway)
#   mode enter: --target=PID --uid=1000 --gid=1000 --wd=DIR; join every namespace of PID, chroot to
#               its root, fork (pid ns), drop the bounding set, become uid/gid, no_new_privs, exec argv
#   common:     --cgroup=FILE (cgroup.procs, repeatable), --rlimit=RES:SOFT:HARD (repeatable)
use strict;
use warnings;

my %NR = (
  x64   => { setns => 308, prctl => 157, setresuid => 117, setresgid => 119, setgroups => 116, prlimit64 => 302, close_range => 436 },
  arm64 => { setns => 268, prctl => 167, setresuid => 147, setresgid => 149, setgroups => 159, prlimit64 => 261, close_range => 436 },
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
  elsif ($a =~ /^--(uid|gid|target|wd|fds)=(.+)$/) { $opt{$1} = $2 }
  else { fail("bad option $a") }
}
my @argv = @ARGV;
fail('missing command') unless @argv;
defined $opt{$_} && $opt{$_} =~ /^\d+$/ or fail("missing --$_") for qw(uid gid);

# Decode the lab environment now, apply it only right before the final exec.
my %labenv;
for my $kv (split /\0/, pack('H*', $ENV{ATELIER_ENV} // '')) {
  my ($k, $v) = split /=/, $kv, 2;
  $labenv{$k} = $v if defined $v && length $k;
}
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
  fail('bad --fds') unless $fds =~ /^\d+$/ && $fds >= 3 && $fds <= 16;
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
