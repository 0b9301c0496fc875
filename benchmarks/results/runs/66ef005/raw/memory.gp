set terminal pngcairo size 1300,600 font 'sans,11' noenhanced
set output '/var/tmp/report17/memory.png'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb '#333333'
set boxwidth 0.9
set grid ytics mytics lc rgb '#dddddd'
set xtics nomirror
set ytics nomirror
set key outside bottom center horizontal
set multiplot layout 1,2 title 'Peak memory, issue 16''s mixed workload, one process each' font 'sans,13'
unset logscale y
set yrange [0:*]
set title 'peak RSS (VmHWM)'
set ylabel 'MiB (lower is better)'
set format y '%g'
plot '/var/tmp/report17/raw/memory_1.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c'
unset logscale y
set yrange [0:*]
set title 'anonymous memory before close (RssAnon)'
set ylabel 'MiB (lower is better)'
set format y '%g'
plot '/var/tmp/report17/raw/memory_2.dat' using 2:xtic(1) title 'kvstore' lc rgb '#1f6fb4', '' using 3 title 'LevelDB' lc rgb '#2ca02c'
unset multiplot
