package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/dbtest"
)

func TestMigratingNumbersExistingRevisionsWithinTheirLessonAndRewritesTheLogsThatNamedThemByID(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	// Back to the schema before revision numbers, with a history in it.
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, twostep.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	var ids [4]int64 // lesson 1, lesson 2, lesson 1, lesson 1
	for i, lesson := range []int{1, 2, 1, 1} {
		if err := db.Pool.QueryRow(ctx, `INSERT INTO lesson_revisions (lesson, source, sha256, origin) VALUES ($1, 'x', '\x00', 'admin') RETURNING id`,
			lesson).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO admin_audit (at, actor, action, subject_type, subject_id, before, after) VALUES
		(now(), 'a@example.org', 'lesson.save', 'lesson', 1, jsonb_build_object('revision', $1::bigint), jsonb_build_object('revision', $2::bigint)),
		(now(), 'a@example.org', 'lesson.restore', 'lesson', 1, jsonb_build_object('revision', $2::bigint), jsonb_build_object('revision', $3::bigint, 'restored_from', $1::bigint))`,
		ids[0], ids[2], ids[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO events (subscriber_id, kind, actor, detail) VALUES (NULL, 'admin.resend', 'a@example.org', jsonb_build_object('lesson', 2, 'revision', $1::bigint))`,
		ids[1]); err != nil {
		t.Fatal(err)
	}

	if err := db.Migrate(ctx, twostep.Migrations, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 1, 2, 3} {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT number FROM lesson_revisions WHERE id = $1`, ids[i]).Scan(&n); err != nil || n != want {
			t.Errorf("revision id %d: number %d (%v), want %d", ids[i], n, err, want)
		}
	}
	var save, restore, resend string
	db.Pool.QueryRow(ctx, `SELECT before::text || ' ' || after::text FROM admin_audit WHERE action = 'lesson.save'`).Scan(&save)
	db.Pool.QueryRow(ctx, `SELECT before::text || ' ' || after::text FROM admin_audit WHERE action = 'lesson.restore'`).Scan(&restore)
	db.Pool.QueryRow(ctx, `SELECT detail::text FROM events WHERE kind = 'admin.resend'`).Scan(&resend)
	if save != `{"revision": 1} {"revision": 2}` || restore != `{"revision": 2} {"revision": 3, "restored_from": 1}` || resend != `{"lesson": 2, "revision": 1}` {
		t.Fatalf("after migrating:\nsave    %s\nrestore %s\nresend  %s\nwant the numbers within each lesson", save, restore, resend)
	}
	// Going back names them by id again.
	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	db.Pool.QueryRow(ctx, `SELECT after::text FROM admin_audit WHERE action = 'lesson.restore'`).Scan(&restore)
	db.Pool.QueryRow(ctx, `SELECT detail->>'revision' FROM events WHERE kind = 'admin.resend'`).Scan(&resend)
	if want := fmt.Sprintf(`{"revision": %d, "restored_from": %d}`, ids[3], ids[0]); restore != want || resend != fmt.Sprint(ids[1]) {
		t.Fatalf("after migrating down: restore %s (want %s), resend revision %s (want %d)", restore, want, resend, ids[1])
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	// Two revisions of one lesson never share a number.
	var n int
	if err := db.Pool.QueryRow(ctx, `INSERT INTO lesson_revisions (lesson, number, source, sha256, origin) VALUES (1, 3, 'y', '\x00', 'admin') RETURNING number`).Scan(&n); err == nil {
		t.Fatal("a second revision #3 of lesson 1 was accepted")
	}
}
