module github.com/bertsync/bertsync

go 1.26.8
