
set terminal pngcairo size 1500,750 font 'sans,12' noenhanced
set output '/var/tmp/report17/ops_per_sec_large.png'
set title 'ops/s per workload: 250,000 keys, 16-byte keys, 1000-byte values, 2 vCPU' font 'sans,14'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb '#333333'
set boxwidth 0.9
set logscale y 10
set yrange [1000:*]
set format y '%.0s%c'
set ylabel 'operations per second (log scale, higher is better)'
set grid ytics mytics lc rgb '#dddddd'
set xtics rotate by -30 nomirror font 'sans,12'
set ytics nomirror
set key top left box opaque
set bmargin 6
plot '/var/tmp/report17/raw/ops_per_sec_large.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c', '' using 4 title 'RocksDB (Debian debug-assert build)' lc rgb '#d9822b'
