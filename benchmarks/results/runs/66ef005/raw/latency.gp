set terminal pngcairo size 1500,650 font 'sans,11' noenhanced
set output '/var/tmp/report17/latency.png'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb '#333333'
set boxwidth 0.9
set grid ytics mytics lc rgb '#dddddd'
set xtics nomirror
set ytics nomirror
set key outside bottom center horizontal
set multiplot layout 1,2 title 'Per-write latency: 10,000,000 keys, 16-byte keys, 100-byte values' font 'sans,13'
set logscale y 10
set yrange [0.1:*]
set title 'fillrandom'
set ylabel 'µs per write (log scale, lower is better)'
set format y '%g'
plot '/var/tmp/report17/raw/latency_1.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c', '' using 4 title 'RocksDB (Debian debug-assert build)' lc rgb '#d9822b'
set logscale y 10
set yrange [0.1:*]
set title 'overwrite'
set ylabel 'µs per write (log scale, lower is better)'
set format y '%g'
plot '/var/tmp/report17/raw/latency_2.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c', '' using 4 title 'RocksDB (Debian debug-assert build)' lc rgb '#d9822b'
unset multiplot
