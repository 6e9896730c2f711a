package models

import "context"

// What both stores do the same way over their own transactions: the
// one-document writes ([Store.Insert] and the rest, and their [PGStore]
// twins), each one change of the document model's transaction through
// the store's group commit, and List over the store's each.

// docWrite runs fn as one write of s.
func docWrite(ctx context.Context, s DocumentStore, fn func(tx docTx) error) error {
	return s.Commit(ctx, []Write{func(tx Tx) error { return fn(tx.(docTx)) }})[0]
}

func insertDoc(ctx context.Context, s DocumentStore, model, id string, attrs Props) (string, error) {
	err := docWrite(ctx, s, func(tx docTx) (err error) {
		id, err = tx.insert(model, id, attrs, -1, nil)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func putDoc(ctx context.Context, s DocumentStore, model, id string, attrs Props) (created bool, err error) {
	err = docWrite(ctx, s, func(tx docTx) (err error) {
		created, err = tx.replace(model, id, attrs, -1, nil)
		return err
	})
	return created, err
}

func mergeDoc(ctx context.Context, s DocumentStore, model, id string, attrs Props) (merged Props, err error) {
	err = docWrite(ctx, s, func(tx docTx) (err error) {
		merged, err = tx.merge(model, id, attrs, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return merged, nil
}

func removeDoc(ctx context.Context, s DocumentStore, model, id string) (old Props, err error) {
	err = docWrite(ctx, s, func(tx docTx) (err error) {
		old, err = tx.remove(model, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}

func listDocs(ctx context.Context, s DocumentStore, model string, offset, limit int) ([]Doc, error) {
	if offset < 0 || limit < 0 {
		return nil, Errorf(CodeBadRequest, "negative offset or limit")
	}
	list := []Doc{}
	if limit == 0 {
		return list, nil
	}
	err := s.each(ctx, model, offset, func(d Doc) (bool, error) {
		list = append(list, d)
		return len(list) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}
