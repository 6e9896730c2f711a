package models

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"go.etcd.io/bbolt"
)

// benchAttrs is a typical front-end document: a few text attributes as
// BERT-JS sends them, numbers and a nested list.
func benchAttrs() Props {
	return Props{
		{"name", bert.ByteList("Ann the Bard")},
		{"class", bert.ByteList("bard")},
		{"level", int64(12)},
		{"hp", 93.5},
		{"alive", true},
		{"tags", bert.List{bert.ByteList("music"), bert.ByteList("charm")}},
	}
}

// BenchmarkStoreInsert measures one acknowledged (committed and synced)
// create. BenchmarkBoltPut, the baseline, is one bare bbolt Update putting
// the same encoded bytes: the store's write-ahead log syncs once where
// bbolt syncs twice, and its own costs come on top.
func BenchmarkStoreInsert(b *testing.B) {
	s := openTestStore(b)
	ctx := context.Background()
	attrs := benchAttrs()
	rec, _ := encodeRecord(1, attrs)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Insert(ctx, "c", "", attrs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBoltPut(b *testing.B) {
	s := openTestStore(b)
	rec, _ := encodeRecord(1, benchAttrs())
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		err := s.db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("raw"))
			if err != nil {
				return err
			}
			return bk.Put([]byte(strconv.Itoa(i)), rec)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreGet reads one document; BenchmarkBoltGet, the baseline,
// copies the same record out of a bare bbolt View without decoding it.
func BenchmarkStoreGet(b *testing.B) {
	s := openTestStore(b)
	ctx := context.Background()
	id := fillStore(b, s, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, "c", id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBoltGet(b *testing.B) {
	s := openTestStore(b)
	id := fillStore(b, s, 1000)
	b.ReportAllocs()
	for b.Loop() {
		var v []byte
		err := s.db.View(func(tx *bbolt.Tx) error {
			docs := tx.Bucket(rootBucket).Bucket([]byte("c")).Bucket(docsBucket)
			v = bytes.Clone(docs.Get([]byte(id)))
			return nil
		})
		if err != nil || v == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreList reads pages of a 1,000-document collection.
func BenchmarkStoreList(b *testing.B) {
	s := openTestStore(b)
	fillStore(b, s, 1000)
	ctx := context.Background()
	for _, page := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(page), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				list, err := s.List(ctx, "c", 0, page)
				if err != nil || len(list) != page {
					b.Fatal(len(list), err)
				}
			}
		})
	}
}

// fillStore adds n documents to model c in one transaction, which is
// quicker than n acknowledged writes, applies them to the file, and
// returns the id of the middle one.
func fillStore(b *testing.B, s *Store, n int) string {
	b.Helper()
	attrs := benchAttrs()
	err := docWrite(context.Background(), s, func(tx docTx) error {
		for i := 1; i <= n; i++ {
			if _, err := tx.insert("c", strconv.Itoa(i), attrs, -1, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.applyPending()
	}
	if err != nil {
		b.Fatal(err)
	}
	return strconv.Itoa(n / 2)
}

// BenchmarkStoreInsertGroup measures creates from 16 writers per CPU at
// once, which the committer takes in groups: the store's cost per write
// when one sync is shared (run it with TMPDIR on a tmpfs to see the CPU
// alone).
func BenchmarkStoreInsertGroup(b *testing.B) {
	s := openTestStore(b)
	ctx := context.Background()
	attrs := benchAttrs()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Insert(ctx, "c", "", attrs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStoreCreateEvent measures what the server's create asks of
// the store: the document and its event in one write, with the history
// at its size bound so that each append also prunes one event, from 16
// writers per CPU at once (see BenchmarkStoreInsertGroup).
func BenchmarkStoreCreateEvent(b *testing.B) {
	s, err := OpenStoreWith(filepath.Join(b.TempDir(), "bertsync.db"), StoreConfig{History: HistoryConfig{Size: 100, TTL: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	attrs := benchAttrs()
	push, err := bert.Marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("created"), bert.Atom("c"), attrs.Term(), int64(1)})
	if err != nil {
		b.Fatal(err)
	}
	create := func(tx Tx) error {
		if _, err := tx.(docTx).insert("c", "", attrs, -1, nil); err != nil {
			return err
		}
		_, err := tx.Append("c", func(int64) ([]byte, error) { return push, nil })
		return err
	}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		writes := []Write{create}
		for pb.Next() {
			if errs := s.Commit(ctx, writes); errs[0] != nil {
				b.Error(errs[0])
				return
			}
		}
	})
}
