# Bar chart of median wall time per tool and case, relative to curl in the same case (1.0 =
# as fast as curl; lower is faster). Called by bench/run.sh with datafile and outfile set;
# rows are "index label ratio case_index" (bench/report.py).
set terminal pngcairo size 1200,560 font "sans,10"
set output outfile
set title "Median wall time relative to curl (lower is faster)"
set ylabel "wall time / curl's"
set style fill solid 0.8 border -1
set boxwidth 0.7
set xtics rotate by -35 noenhanced
set bmargin 7
set rmargin 9
set grid ytics
set key off
set logscale y 2
set yrange [0.0625:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lc rgb "#555555"
plot datafile using 1:3:(0.7):4:xtic(2) with boxes lc variable, \
     '' using 1:3:(sprintf("%.2f", $3)) with labels offset 0,0.8 font "sans,9"
