set terminal pngcairo size 1200,600 font 'sans,12' noenhanced
set output '/var/tmp/report32/disk_usage.png'
set title 'Disk use during a random fill of 50000000 keys, then until background work settles'
set xlabel 'seconds since the fill began'
set ylabel 'GB on disk'
set grid
set key top left box opaque
set yrange [0:*]
plot '/var/tmp/report32/disk_usage.dat' index 0 using 1:($2/1e9) with lines lw 2 title 'kvstore', '/var/tmp/report32/disk_usage.dat' index 1 using 1:($2/1e9) with lines lw 2 title 'leveldb', 5.800000 with lines dt 2 lc rgb '#555555' title 'live data', 8.700000 with lines dt 3 lc rgb '#aa0000' title '1.5x live data'
