package githubfake

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

// The web side of the fake: a pull request's html_url (and its .diff URL)
// answers with a readable page — title, state, labels, requested reviewers,
// merge state, comments and the diff — as github.com's does, so links in
// nexo's cards lead somewhere in the sandbox. Like the API it serves only
// the GitOps repository; unlike the API it asks for no token (the sandbox
// listens on loopback only).

// webPull is the route of a web page: /{owner}/{repo}/pull/{n}[.diff].
func webPull(path string) (owner, repo, num string, diff, ok bool) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) != 4 || seg[2] != "pull" || seg[0] == "repos" || seg[0] == "api" {
		return "", "", "", false, false
	}
	num, diff = strings.CutSuffix(seg[3], ".diff")
	if _, err := strconv.Atoi(num); err != nil {
		return "", "", "", false, false
	}
	return seg[0], seg[1], num, diff, true
}

// pullDiff is the PR's change: the squash commit once merged, else head
// against its merge base with base.
func (s *Server) pullDiff(p pull) (string, error) {
	switch {
	case p.merged && p.mergeSHA != "":
		return s.git(s.opts.RemotePath, nil, "diff", p.mergeSHA+"^", p.mergeSHA)
	case p.state == "open":
		return s.git(s.opts.RemotePath, nil, "diff", "refs/heads/"+p.base+"...refs/heads/"+p.head)
	case p.headSHA != "":
		return s.git(s.opts.RemotePath, nil, "diff", "refs/heads/"+p.base+"..."+p.headSHA)
	}
	return "", nil
}

type diffLine struct {
	Class, Text string
}

func diffLines(diff string) []diffLine {
	var out []diffLine
	for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		c := ""
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"), strings.HasPrefix(l, "diff "), strings.HasPrefix(l, "index "):
			c = "meta"
		case strings.HasPrefix(l, "@@"):
			c = "hunk"
		case strings.HasPrefix(l, "+"):
			c = "add"
		case strings.HasPrefix(l, "-"):
			c = "del"
		}
		out = append(out, diffLine{Class: c, Text: l})
	}
	return out
}

var pullPage = template.Must(template.New("pull").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Pull Request #{{.Number}} · {{.Repo}}</title>
<style>
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
header{background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:12px 32px;font-size:14px;color:#59636e}
main{max-width:1012px;margin:0 auto;padding:24px 32px}
h1{font-weight:400;font-size:30px;margin:0 0 8px}
h1 .num{color:#59636e}
.state{display:inline-block;border-radius:2em;padding:5px 12px;color:#fff;font-weight:600;font-size:14px;margin-right:8px}
.state.open{background:#1f883d}.state.merged{background:#8250df}.state.closed{background:#cf222e}
.sub{color:#59636e;font-size:14px}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;background:#eff2f5;border-radius:6px;padding:2px 5px}
.grid{display:flex;gap:32px;margin-top:24px}.grid .col{flex:1;min-width:0}.grid aside{width:240px;font-size:13px}
aside h3{font-size:12px;color:#59636e;margin:0 0 6px;border-bottom:1px solid #d0d7de;padding-bottom:6px}
aside section{margin-bottom:18px}
.label{display:inline-block;border-radius:2em;padding:0 8px;margin:0 4px 4px 0;font-size:12px;font-weight:500;line-height:20px;background:#ddf4ff;color:#0969da;border:1px solid #54aeff66}
.box{border:1px solid #d0d7de;border-radius:6px;margin-bottom:16px}
.box .head{background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:8px 16px;font-size:14px;color:#59636e}
.box .content{padding:16px;font-size:14px;white-space:pre-wrap;overflow-wrap:anywhere}
.merge{padding:16px;font-size:14px}
pre.diff{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;line-height:20px;overflow-x:auto}
pre.diff span{display:block;padding:0 10px;white-space:pre}
.add{background:#dafbe1}.del{background:#ffebe9}.hunk{background:#ddf4ff;color:#59636e}.meta{color:#59636e;font-weight:600}
</style></head>
<body><header>{{.Repo}} · Pull requests · a page of the sandbox's fake GitHub</header>
<main>
<h1>{{.Title}} <span class="num">#{{.Number}}</span></h1>
<div class="sub"><span class="state {{.StateClass}}" id="state">{{.State}}</span>
{{if .Merged}}<b>{{.MergedBy}}</b> merged commit <code>{{.ShortMergeSHA}}</code> into <code>{{.Base}}</code> ({{.MergeMethod}})
{{else}}<b>{{.User}}</b> wants to merge into <code>{{.Base}}</code> from <code>{{.Head}}</code>{{end}}</div>
<div class="grid"><div class="col">
<div class="box"><div class="head"><b>{{.User}}</b> opened this pull request</div><div class="content" id="body">{{if .Body}}{{.Body}}{{else}}No description provided.{{end}}</div></div>
{{range .Comments}}<div class="box comment"><div class="head"><b>{{.User}}</b> commented</div><div class="content">{{.Body}}</div></div>{{end}}
<div class="box"><div class="merge" id="merge-state">{{.MergeState}}</div></div>
<div class="box"><div class="head" id="files">Files changed: {{.Files}}</div><pre class="diff" id="diff">{{range .Diff}}<span class="{{.Class}}">{{.Text}}</span>{{end}}</pre></div>
</div>
<aside>
<section id="reviewers"><h3>Reviewers</h3>{{range .Reviewers}}<div>{{.}}</div>{{else}}<div>No reviews requested</div>{{end}}</section>
<section id="labels"><h3>Labels</h3>{{range .Labels}}<span class="label">{{.}}</span>{{else}}<div>None yet</div>{{end}}</section>
</aside></div>
</main></body></html>
`))

type pullPageData struct {
	Repo, Title, User, Body, Head, Base string
	Number                              int
	State, StateClass, MergeState       string
	Merged                              bool
	MergedBy, ShortMergeSHA             string
	MergeMethod                         string
	Labels, Reviewers                   []string
	Comments                            []struct{ User, Body string }
	Diff                                []diffLine
	Files                               int
}

func (s *Server) servePullPage(w http.ResponseWriter, r *http.Request, owner, repo, num string, asDiff bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.isGitOps(owner, repo) {
		http.Error(w, "404: this fake serves only "+s.opts.Owner+"/"+s.opts.Repo, http.StatusNotFound)
		return
	}
	n, _ := strconv.Atoi(num)
	var p *pull
	s.mu.Lock()
	for _, x := range s.pulls {
		if x.number == n {
			p = x
		}
	}
	s.mu.Unlock()
	if p == nil {
		http.Error(w, "404: no pull request #"+num, http.StatusNotFound)
		return
	}
	snap := s.snapshot(p)
	diff, err := s.pullDiff(snap)
	if err != nil {
		http.Error(w, "reading the diff: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if asDiff {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(diff))
		return
	}
	d := pullPageData{
		Repo: s.opts.Owner + "/" + s.opts.Repo, Title: snap.title, User: snap.user, Body: snap.body,
		Head: snap.head, Base: snap.base, Number: snap.number, Merged: snap.merged, MergedBy: snap.mergedBy,
		MergeMethod: snap.mergeMethod, Labels: snap.labels, Diff: diffLines(diff),
		Files: strings.Count(diff, "\ndiff --git ") + map[bool]int{true: 1}[strings.HasPrefix(diff, "diff --git ")],
	}
	d.Reviewers = append(d.Reviewers, snap.reviewers...)
	for _, t := range snap.teams {
		d.Reviewers = append(d.Reviewers, s.opts.Owner+"/"+t)
	}
	for _, c := range snap.comments {
		d.Comments = append(d.Comments, struct{ User, Body string }{c.User.Login, c.Body})
	}
	if len(snap.mergeSHA) >= 7 {
		d.ShortMergeSHA = snap.mergeSHA[:7]
	}
	switch {
	case snap.merged:
		d.State, d.StateClass = "Merged", "merged"
		d.MergeState = "Merged by " + snap.mergedBy + " (" + snap.mergeMethod + "); the branch " + snap.head + " is in " + snap.base + "."
	case snap.state == "closed":
		d.State, d.StateClass = "Closed", "closed"
		d.MergeState = "Closed without merging."
	default:
		d.State, d.StateClass = "Open", "open"
		switch {
		case snap.mergeable != nil && !*snap.mergeable:
			d.MergeState = "This branch has conflicts that must be resolved."
		default:
			s.mu.Lock()
			need, blockMsg, blocked := s.approvals, s.blockMsg, s.blockCode != 0
			s.mu.Unlock()
			switch {
			case blocked:
				d.MergeState = "Merging is blocked: " + blockMsg
			case need > 0:
				d.MergeState = "Review required: at least " + strconv.Itoa(need) + " approving review(s) by reviewers with write access."
			default:
				d.MergeState = "This branch has no conflicts with the base branch: it can be merged."
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pullPage.Execute(w, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
