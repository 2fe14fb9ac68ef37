package dev.higgstrt.cli;

import java.util.Locale;

/** Human-readable sizes and counts for the command line's reports. */
final class Sizes {
    private Sizes() {
    }

    /** {@code 812 B}, {@code 4.10 kB}, {@code 25.3 MB}, {@code 11.54 GB}: three significant digits, decimal units. */
    static String bytes(long n) {
        if (n < 1000) {
            return n + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = n;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s" : "%.2f %s", v, units[u]);
    }

    /** {@code 1 rank}, {@code 4 ranks}. */
    static String count(long n, String singular) {
        return n + " " + singular + (n == 1 ? "" : "s");
    }
}
