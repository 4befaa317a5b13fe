package dora

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
	"golang.org/x/text/unicode/norm"
)

// Chart geometry (pixels).
const (
	chartW, chartH = 1000, 520
	plotL, plotR   = 90, 910 // plot area x range
	plotT, plotB   = 100, 430
	fontScale      = 2
)

var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colGrid       = color.RGBA{232, 234, 237, 255}
	colAxis       = color.RGBA{60, 64, 67, 255}
	colText       = color.RGBA{32, 33, 36, 255}
	colMuted      = color.RGBA{95, 99, 104, 255}
	colBar        = color.RGBA{66, 133, 244, 255}
	colBarPartial = color.RGBA{161, 194, 250, 255} // weeks cut by the period
	colLine       = color.RGBA{234, 110, 0, 255}
)

// ChartPNG draws the report's weeks: deployments per ISO week as bars (left
// axis) and the week's median lead time as a line (right axis), with a
// title, a legend, axis labels and week start dates.
func ChartPNG(t i18n.T, r Report) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	draw.Draw(img, img.Bounds(), &image.Uniform{colBackground}, image.Point{}, draw.Src)

	title := t.S("dora.chart.title", "Service", r.Service, "Env", r.Env, "Period", PeriodLabel(t, r))
	title = asciiOnly(title)
	drawText(img, (chartW-textWidth(title, fontScale))/2, 20, title, fontScale, colText)

	// Legend.
	lx := plotL
	fillRect(img, lx, 62, lx+16, 76, colBar)
	deploys, leadTime := asciiOnly(t.S("dora.chart.deploys")), asciiOnly(t.S("dora.chart.lead_time"))
	drawText(img, lx+24, 62, deploys, fontScale, colText)
	lx += 24 + textWidth(deploys, fontScale) + 40
	thickLine(img, lx, 69, lx+24, 69, colLine)
	fillRect(img, lx+9, 66, lx+15, 72, colLine)
	drawText(img, lx+32, 62, leadTime, fontScale, colText)
	lx += 32 + textWidth(leadTime, fontScale) + 40
	fillRect(img, lx, 62, lx+16, 76, colBarPartial)
	drawText(img, lx+24, 62, asciiOnly(t.S("dora.chart.partial")), fontScale, colMuted)

	weeks := r.Weeks
	maxDeps := 0
	var maxLead time.Duration
	for _, w := range weeks {
		maxDeps = max(maxDeps, w.Deployments)
		if w.LeadSamples > 0 {
			maxLead = max(maxLead, w.MedianLeadTime)
		}
	}
	depStep, depTop := niceScale(float64(maxDeps))
	unit, unitName := leadUnit(maxLead)
	unitName = asciiOnly(t.S("dora.chart.unit." + unitName))
	leadStep, leadTop := niceScale(float64(maxLead) / float64(unit))

	// Grid and left axis ticks (deploys), right axis ticks (lead time).
	ticks := int(math.Round(depTop / depStep))
	for i := 0; i <= ticks; i++ {
		y := plotB - int(math.Round(float64(i)*float64(plotB-plotT)/float64(ticks)))
		hline(img, plotL, plotR, y, colGrid)
		lbl := trimFloat(float64(i) * depStep)
		drawText(img, plotL-10-textWidth(lbl, fontScale), y-7, lbl, fontScale, colMuted)
	}
	lticks := int(math.Round(leadTop / leadStep))
	for i := 0; i <= lticks; i++ {
		y := plotB - int(math.Round(float64(i)*float64(plotB-plotT)/float64(lticks)))
		lbl := trimFloat(float64(i) * leadStep)
		drawText(img, plotR+10, y-7, lbl, fontScale, colLine)
	}
	leftName := asciiOnly(t.S("dora.chart.axis_deploys"))
	drawTextUp(img, 14, (plotT+plotB)/2+textWidth(leftName, fontScale)/2, leftName, fontScale, colText)
	rightName := asciiOnly(t.S("dora.chart.axis_lead", "Unit", unitName))
	drawTextUp(img, chartW-30, (plotT+plotB)/2+textWidth(rightName, fontScale)/2, rightName, fontScale, colLine)

	// Bars and the lead time line.
	n := max(len(weeks), 1)
	slot := float64(plotR-plotL) / float64(n)
	barW := max(int(slot*0.6), 2)
	var px, py []int
	for i, w := range weeks {
		cx := plotL + int(slot*(float64(i)+0.5))
		if w.Deployments > 0 {
			h := int(math.Round(float64(w.Deployments) / depTop * float64(plotB-plotT)))
			c := colBar
			if !w.Whole {
				c = colBarPartial
			}
			fillRect(img, cx-barW/2, plotB-h, cx-barW/2+barW, plotB, c)
		}
		if w.LeadSamples > 0 {
			v := float64(w.MedianLeadTime) / float64(unit)
			px = append(px, cx)
			py = append(py, plotB-int(math.Round(v/leadTop*float64(plotB-plotT))))
		}
	}
	for i := 1; i < len(px); i++ {
		thickLine(img, px[i-1], py[i-1], px[i], py[i], colLine)
	}
	for i := range px {
		fillRect(img, px[i]-4, py[i]-4, px[i]+5, py[i]+5, colLine)
	}

	// Axes.
	hline(img, plotL, plotR, plotB, colAxis)
	vline(img, plotL, plotT, plotB, colAxis)
	vline(img, plotR, plotT, plotB, colAxis)

	// Week labels, as many as fit.
	lblW := textWidth("00-00", fontScale) + 14
	every := max(1, int(math.Ceil(float64(lblW)/slot)))
	for i, w := range weeks {
		if i%every != 0 {
			continue
		}
		cx := plotL + int(slot*(float64(i)+0.5))
		vline(img, cx, plotB, plotB+5, colAxis)
		lbl := w.Start.Format("01-02")
		drawText(img, cx-textWidth(lbl, fontScale)/2, plotB+12, lbl, fontScale, colMuted)
	}
	foot := asciiOnly(t.S("dora.chart.weeks", "Zone", r.Location))
	drawText(img, (plotL+plotR-textWidth(foot, fontScale))/2, plotB+44, foot, fontScale, colText)
	if r.NoDeployments {
		msg := asciiOnly(t.S("dora.chart.none"))
		drawText(img, (plotL+plotR-textWidth(msg, 3))/2, (plotT+plotB)/2-10, msg, 3, colMuted)
	}

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("dora: chart: %w", err)
	}
	return buf.Bytes(), nil
}

// niceScale picks a step of 1, 2 or 5 × 10^k giving at most 6 ticks, and
// the axis top (a multiple of the step, at least one step).
func niceScale(maxV float64) (step, top float64) {
	if maxV <= 0 {
		return 1, 1
	}
	raw := maxV / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	if maxV >= 1 && step < 1 {
		step = 1
	}
	top = math.Ceil(maxV/step) * step
	if top <= maxV { // headroom above the tallest value
		top += step
	}
	return step, top
}

func leadUnit(maxLead time.Duration) (time.Duration, string) {
	switch {
	case maxLead >= 72*time.Hour:
		return 24 * time.Hour, "days"
	case maxLead >= 2*time.Hour:
		return time.Hour, "hours"
	}
	return time.Minute, "min"
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	s := fmt.Sprintf("%.2f", f)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s
}

// asciiOnly swaps what the bitmap font lacks (→, accents) for '-' or drops it.
func asciiOnly(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range norm.NFD.String(s) { // "Ç" is "C" and a cedilla: keep the C
		switch {
		case r == '→':
			out = append(out, '-', '>')
		case r < 128:
			out = append(out, r)
		}
	}
	return string(out)
}

func fillRect(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) { fillRect(img, x0, y, x1+1, y+1, c) }
func vline(img *image.RGBA, x, y0, y1 int, c color.Color) { fillRect(img, x, y0, x+1, y1+1, c) }

// thickLine draws a 3-pixel line (Bresenham with a square brush).
func thickLine(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		fillRect(img, x0-1, y0-1, x0+2, y0+2, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}
