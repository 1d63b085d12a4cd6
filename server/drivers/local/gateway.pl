#!/usr/bin/perl
# Atelier lab gateway: the lab's keeper when the lab may reach the lab server (forge + S3).
#
# Runs INSIDE the sandbox, as the lab user, in the lab's own network namespace (loopback only).
# It listens on 127.0.0.1:<port> and pipes every TCP connection to the lab server's gateway
# socket, which the driver opened on the host (O_PATH) and handed down as descriptor <fd>:
# connect("/proc/self/fd/<fd>") reaches that socket whatever the permissions of its host path.
# The listener is bound BEFORE the keeper becomes `sleep infinity`, so a lab the driver reports
# ready already has its gateway. Then one process, one select loop, no fork per connection: the
# gateway costs one pid and a few MB of the lab's own limits, whatever the traffic.
#
# usage: perl gateway.pl <port> <fd> -- <keeper argv...>   (core perl only: perl-base suffices)
use strict;
use warnings;
use Socket qw(AF_INET AF_UNIX SOCK_STREAM SOL_SOCKET SO_REUSEADDR IPPROTO_TCP TCP_NODELAY
              SHUT_WR inet_aton pack_sockaddr_in pack_sockaddr_un);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);

my ($port, $fd, $sep, @keeper) = @ARGV;
die "usage: gateway.pl <port> <fd> -- argv...\n"
  unless defined $sep && $sep eq '--' && @keeper && $port =~ /^\d+$/ && $port > 0 && $port < 65536 && $fd =~ /^\d+$/;
my $target = pack_sockaddr_un("/proc/self/fd/$fd");

socket(my $listener, AF_INET, SOCK_STREAM, 0) or die "gateway: socket: $!\n";
setsockopt($listener, SOL_SOCKET, SO_REUSEADDR, 1) or die "gateway: SO_REUSEADDR: $!\n";
bind($listener, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "gateway: cannot listen on 127.0.0.1:$port: $!\n";
listen($listener, 128) or die "gateway: listen: $!\n";

-S "/proc/self/fd/$fd" or die "gateway: descriptor $fd is not the gateway socket\n";

# Double fork: the forwarder is adopted by the sandbox's init (bwrap), which reaps it if it dies;
# the keeper (this process, pid 2) becomes `sleep infinity` and keeps descriptor <fd> open, which
# is what the lab's /run/atelier/gateway.sock (-> /proc/2/fd/<fd>) leads to.
my $pid = fork() // die "gateway: fork: $!\n";
if ($pid) {
  waitpid($pid, 0);
  die "gateway: the forwarder did not start\n" if $?;
  close($listener);    # the forwarder's now (perl sockets are close-on-exec anyway)
  exec { $keeper[0] } @keeper;
  die "gateway: cannot execute $keeper[0]: $!\n";
}
defined(my $grandchild = fork()) or exit 1;
exit 0 if $grandchild;

$0 = "atelier-gateway 127.0.0.1:$port";
$SIG{PIPE} = 'IGNORE';
sub nonblocking { my $fl = fcntl($_[0], F_GETFL, 0); fcntl($_[0], F_SETFL, $fl | O_NONBLOCK) }
nonblocking($listener);

# Per direction of a connection at most 2 x CHUNK buffered, at most MAX_CONN connections at once
# (more wait in the listen backlog): the forwarder stays at a few MB of the lab's own memory.
use constant { CHUNK => 32768, MAX_CONN => 128 };
# A pipe: one direction of a connection: {from, to, buf, eof (from is at EOF), done (to shut down)}
my @pipes;
my $conns = 0;

sub open_conn {
  my ($client) = @_;
  socket(my $up, AF_UNIX, SOCK_STREAM, 0) or return close($client);
  unless (connect($up, $target)) {
    # The lab server is not there (restarting, stopped): the client sees the connection close.
    close($up);
    return close($client);
  }
  nonblocking($client);
  nonblocking($up);
  setsockopt($client, IPPROTO_TCP, TCP_NODELAY, 1);
  my $conn = { socks => [$client, $up] };
  my $a = { from => $client, to => $up, buf => '', eof => 0, done => 0, conn => $conn };
  my $b = { from => $up, to => $client, buf => '', eof => 0, done => 0, conn => $conn };
  $conn->{pipes} = [$a, $b];
  push @pipes, $a, $b;
  $conns++;
}

sub close_conn {
  my ($conn) = @_;
  return if $conn->{closed}++;
  close($_) for @{ $conn->{socks} };
  $conns--;
}

while (1) {
  my ($rin, $win) = ('', '');
  vec($rin, fileno($listener), 1) = 1 if $conns < MAX_CONN;
  for my $p (@pipes) {
    next if $p->{conn}{closed};
    vec($rin, fileno($p->{from}), 1) = 1 if !$p->{eof} && length($p->{buf}) < CHUNK;
    vec($win, fileno($p->{to}), 1) = 1 if length($p->{buf}) || ($p->{eof} && !$p->{done});
  }
  my $n = select(my $rout = $rin, my $wout = $win, undef, undef);
  if ($n < 0) { next if $! == EINTR; die "gateway: select: $!\n"; }
  if (vec($rout, fileno($listener), 1)) {
    for (1 .. 16) {
      accept(my $client, $listener) or last;
      open_conn($client);
    }
  }
  for my $p (@pipes) {
    my $conn = $p->{conn};
    next if $conn->{closed};
    if (!$p->{eof} && vec($rout, fileno($p->{from}), 1)) {
      my $r = sysread($p->{from}, $p->{buf}, CHUNK, length $p->{buf});
      if (defined $r) { $p->{eof} = 1 if $r == 0 }
      elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) { close_conn($conn); next; }
    }
    if (length $p->{buf}) {
      my $w = syswrite($p->{to}, $p->{buf});
      if (defined $w) { substr($p->{buf}, 0, $w) = '' }
      elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) { close_conn($conn); next; }
    }
    if ($p->{eof} && !$p->{done} && !length $p->{buf}) {
      # Half-close: pass the EOF on and keep the other direction flowing.
      shutdown($p->{to}, SHUT_WR);
      $p->{done} = 1;
    }
    close_conn($conn) if $conn->{pipes}[0]{done} && $conn->{pipes}[1]{done};
  }
  @pipes = grep { !$_->{conn}{closed} } @pipes;
}
