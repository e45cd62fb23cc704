# The torture suite's perl run: hashes, regexes, sort, sprintf, closures.
use strict;
use warnings;
my %h;
for my $i (1 .. 50000) {
    my $k = sprintf("key%06d", ($i * 7919) % 50000);
    $h{$k} .= "v$i;";
}
my @keys = sort { length($h{$b}) <=> length($h{$a}) || $a cmp $b } keys %h;
my $n = grep { /^key0+1/ } @keys;
my @subs = map { my $x = $_; sub { $x * 2 } } 1 .. 1000;
my $s = 0;
$s += $_->() for @subs;
my $text = join(",", @keys[0 .. 9]);
(my $t2 = $text) =~ s/key(\d+)/K$1/g;
print scalar(keys %h), " $n $s\n$t2\n";
