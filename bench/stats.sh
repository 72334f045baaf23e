# The benchmarks' figures: sourced by bench/lib.sh and the benchmarks that
# set up on their own.
# median: of the numbers on stdin (the lower middle of an even count).
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# pct P: the P-th percentile of the numbers on stdin (nearest rank).
pct() { sort -g | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; print a[i]}'; }
