set terminal pngcairo size 1650,650 font 'sans,11' noenhanced
set output '/var/tmp/report17/compression.png'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb '#333333'
set boxwidth 0.9
set grid ytics mytics lc rgb '#dddddd'
set xtics nomirror
set ytics nomirror
set key outside bottom center horizontal
set multiplot layout 1,3 title 'Compression: 1,000,000 keys, values compressing to about 0.5' font 'sans,13'
unset logscale y
set yrange [0:*]
set title 'size on disk, compacted'
set ylabel 'MB (lower is better)'
set format y '%g'
plot '/var/tmp/report17/raw/compression_1.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c', '' using 4 title 'RocksDB (Debian debug-assert build)' lc rgb '#d9822b'
unset logscale y
set yrange [0:*]
set title 'fillrandom'
set ylabel 'thousand ops/s (higher is better)'
set format y '%g'
plot '/var/tmp/report17/raw/compression_2.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c', '' using 4 title 'RocksDB (Debian debug-assert build)' lc rgb '#d9822b'
unset logscale y
set yrange [0:*]
set title 'readrandom'
set ylabel 'thousand ops/s (higher is better)'
set format y '%g'
plot '/var/tmp/report17/raw/compression_3.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c', '' using 4 title 'RocksDB (Debian debug-assert build)' lc rgb '#d9822b'
unset multiplot
