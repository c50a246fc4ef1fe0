/*
 * CSV and SVG output of miss-ratio curves (curves.h).
 */
#include "report/curves.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>

int vm_curves_csv(FILE *f, const uint64_t *sizes, size_t nsizes, const struct vm_curve *c,
		  unsigned nc, uint64_t refs)
{
	fprintf(f, "frames");
	for (unsigned k = 0; k < nc; k++)
		fprintf(f, ",%s_misses,%s_miss_ratio", c[k].name, c[k].name);
	fputc('\n', f);
	for (size_t i = 0; i < nsizes; i++) {
		fprintf(f, "%" PRIu64, sizes[i]);
		for (unsigned k = 0; k < nc; k++)
			fprintf(f, ",%" PRIu64 ",%.6f", c[k].misses[i],
				(double)c[k].misses[i] / (double)refs);
		fputc('\n', f);
	}
	return ferror(f) ? -EIO : 0;
}

/* A step of 1, 2 or 5 times a power of ten giving about 5-10 ticks up to max. */
static double nice_step(double max)
{
	double raw = max / 8, mag = pow(10, floor(log10(raw > 0 ? raw : 1)));
	if (raw <= mag)
		return mag;
	if (raw <= 2 * mag)
		return 2 * mag;
	if (raw <= 5 * mag)
		return 5 * mag;
	return 10 * mag;
}

static void escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '"')
			fputs("&quot;", f);
		else
			fputc(*s, f);
	}
}

int vm_curves_svg(FILE *f, const char *title, const uint64_t *sizes, size_t nsizes,
		  const struct vm_curve *c, unsigned nc, uint64_t refs)
{
	static const char *const colors[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
					      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" };
	const double W = 760, H = 460, left = 70, right = 170, top = 50, bottom = 60;
	const double pw = W - left - right, ph = H - top - bottom;
	double xmax = nsizes ? (double)sizes[nsizes - 1] : 1;
	double xmin = nsizes ? (double)sizes[0] : 0;
	if (xmax <= xmin)
		xmax = xmin + 1;

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		   "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%.1f\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">", left + pw / 2);
	escape(f, title);
	fprintf(f, "</text>\n");
	/* Grid and ticks: y every 0.1, x at a nice step. */
	for (int i = 0; i <= 10; i++) {
		double y = top + ph - ph * i / 10.0;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
			left, y, left + pw, y);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", left - 6,
			y + 4, i / 10.0);
	}
	double step = nice_step(xmax - xmin);
	for (double v = ceil(xmin / step) * step; v <= xmax + 1e-9; v += step) {
		double x = left + pw * (v - xmin) / (xmax - xmin);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
			x, top, x, top + ph);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", x,
			top + ph + 18, v);
	}
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		   "stroke=\"black\"/>\n", left, top, pw, ph);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">memory size (frames)</text>\n",
		left + pw / 2, H - 16);
	fprintf(f, "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">"
		   "miss ratio</text>\n", top + ph / 2, top + ph / 2);
	for (unsigned k = 0; k < nc; k++) {
		const char *color = colors[k % (sizeof(colors) / sizeof(colors[0]))];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", color);
		for (size_t i = 0; i < nsizes; i++) {
			double x = left + pw * ((double)sizes[i] - xmin) / (xmax - xmin);
			double y = top + ph - ph * (double)c[k].misses[i] / (double)refs;
			fprintf(f, "%s%.2f,%.2f", i ? " " : "", x, y);
		}
		fprintf(f, "\"/>\n");
		double ly = top + 14 + 20.0 * k;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			   "stroke-width=\"3\"/>\n", left + pw + 14, ly, left + pw + 38, ly, color);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", left + pw + 44, ly + 4);
		escape(f, c[k].name);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg>\n");
	return ferror(f) ? -EIO : 0;
}
