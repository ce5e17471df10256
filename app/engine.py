"""The answer engine: question (+ history) -> standalone query -> hybrid retrieval -> rerank ->
abstain or generate -> checked citations (or quoted fallback). One function for CLI, UI and eval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from docchat.app.acronyms import asked_acronym, spelled_out
from docchat.app.answer_type import (
    Expected,
    asked_kind,
    asked_noun,
    asked_purpose,
    asks_yes_no,
    expected_answer,
    names_given,
    names_in,
    states,
    wanted_description,
    what_named_is,
)
from docchat.app.citations import (
    DEFAULT_WORD,
    SentenceVectors,
    SupportThresholds,
    best_relevance,
    check_answer,
    invented_names,
    kind_unaddressed,
    make_citation,
    nothing_relevant,
    on_named_page,
    on_topic,
    only_listed,
    outside_the_asked_kind,
    pages_about,
    score_sentences,
    stated_of_another,
    subject_names,
    terms_beyond_names,
    unmentioned_identifiers,
    unmentioned_names,
    unmentioned_phrases,
    unmentioned_terms,
    unquoted_names,
    unsaid_names,
    unsaid_versions,
    unstated_subject,
    without_invented_identifiers,
    without_other_subjects,
)
from docchat.app.condense import answered_turns, follow_up_history, needs_context, standalone_question
from docchat.app.context import fit_passages
from docchat.app.extractive import extractive_answer, focus_terms
from docchat.app.licences import licence_owners, states_licence_of
from docchat.app.overview import asks_for_overview, describe_collection
from docchat.app.parts import question_parts, quote_missing_parts
from docchat.app.prompt import (
    answer_messages,
    is_refusal,
    may_be_marker,
    recent_history,
    refusal_text,
    says_no,
    small_talk_reply,
    verify_messages,
    without_layout,
)
from docchat.app.repetition import LoopGuard, has_loop
from docchat.app.rerank import Reranker, make_reranker
from docchat.app.retrieve import distinct_passages, hybrid_search, with_each_part
from docchat.app.schema import Answer, AnswerSentence, Event, Final, Mode, Passage, Retrieved, Token
from docchat.app.sentences import split_sentences
from docchat.app.small_talk import small_talk
from docchat.app.yes_no import without_contradicted_opening
from docchat.components.bm25 import LexicalIndex, LexicalIndexCache
from docchat.components.embedding import Embedder, make_embedder
from docchat.components.llm.backends import ChatLLM, build_llm, resolve_profile
from docchat.components.llm.profiles import ModelProfile
from docchat.components.llm.server import LLMUnavailable
from docchat.components.store import open_client, open_collection
from docchat.components.words import said_of
from docchat.core.answer_priority import answering
from docchat.core.errors import DocchatError
from docchat.core.settings import Settings

# A name in this share of the collection's chunks or more is what the collection is about ("Python" is in a fifth of
# Full Stack Python's chunks, "Django" in a sixth, "Flask" in a tenth): an answer need not repeat it.
COMMON_NAME_SHARE = 0.15
# A collection of this many chunks or more holds enough words that one it never uses is a topic it does not cover
# ("guitar" in Full Stack Python's 11,000 chunks); a single document (the seed corpus: 9 chunks) never uses many words
# its users ask with ("entry", "topics").
ABSENT_WORD_MIN_CHUNKS = 1000
# Questions a bare date or number answers ("January 1, 2020."): their answers need not name the question's subject.
_TERSE = (Expected.TIME, Expected.QUANTITY)
QUOTES_NOTICE = "The model's answer was not supported by the documents; these are direct quotes instead."


class Engine:
    """Holds the models and the store for one process; safe to share between threads (UI sessions)."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        llm: ChatLLM | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._llm = llm
        self._reranker = reranker
        self._client: ClientAPI | None = None
        self._lexical = LexicalIndexCache(settings.indexes_dir)
        self._lock = threading.Lock()
        self.thresholds = SupportThresholds.from_settings(settings)

    # -- components, built on first use ---------------------------------------------------------
    def _once(self, attr: str, make: Callable[[], Any]) -> Any:
        """``self.<attr>``, made by ``make()`` on first use (under the lock: made once however many threads ask)."""
        with self._lock:
            if getattr(self, attr) is None:
                setattr(self, attr, make())
            return getattr(self, attr)

    @property
    def embedder(self) -> Embedder:
        """The query embedder (``query_threads`` threads)."""
        return self._once("_embedder", lambda: make_embedder(self.settings, for_queries=True))

    @property
    def llm(self) -> ChatLLM:
        """The chat model of ``llm_backend``."""
        return self._once("_llm", lambda: build_llm(self.settings))

    @property
    def profile(self) -> ModelProfile:
        """The model profile (read from the settings, without loading the model)."""
        return self._llm.profile if self._llm is not None else resolve_profile(self.settings)

    @property
    def reranker(self) -> Reranker:
        """The reranker of ``settings.retrieval.reranker``."""
        retrieval = self.settings.retrieval
        return self._once("_reranker", lambda: make_reranker(retrieval.reranker, retrieval.rrf_weight))

    @property
    def client(self) -> ClientAPI:
        """The Chroma client (embedded or server)."""
        return self._once("_client", lambda: open_client(self.settings))

    def collection(self, name: str | None = None) -> Collection:
        """A collection, fetched fresh so a concurrent ingest's changes are seen on the next question."""
        embedder = self.embedder
        return open_collection(self.client, name or self.settings.store.collection, embedder.name, embedder.dimension)

    def warm(self) -> list[str]:
        """Load the store, the query embedder and the LLM now, not on the first question.

        The sentence splitter (NLTK, about 1.5 s to import) is loaded too, and the LLM reads the answer
        prompt's fixed start once, so the embedded model's prompt cache holds it before the first question.
        Store and embedder failures raise (nothing works without them); an unusable LLM is returned as a
        message instead, since retrieval still works and the message is repeated on asking.
        """
        self.client  # noqa: B018  (opens the store)
        self.embedder.embed_query("warm up")
        split_sentences("Warm up. The splitter loads now.")
        try:
            self.llm.warm()
            self.llm.complete(answer_messages("", [], [], self.llm.profile.trust_refusals), max_tokens=1)
        except LLMUnavailable as error:
            return [str(error)]
        return []

    # -- retrieval ---------------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        *,
        collection: str | None = None,
        top_k: int | None = None,
        source_prefix: str | None = None,
    ) -> list[Passage]:
        """The ``top_k`` passages for ``query``: dense + BM25 fused, reranked, each text once, each with its
        closest sentence's similarity (what the relevance gate reads)."""
        passages, vector, *_ = self._retrieve(query, collection, top_k or self.settings.retrieval.top_k, source_prefix)
        score_sentences(passages, vector, SentenceVectors(self.embedder.embed))
        return passages

    def _retrieve(
        self, query: str, collection_name: str | None, top_k: int, source_prefix: str | None, by_part: bool = True
    ) -> tuple[list[Passage], object, dict[str, float], LexicalIndex]:
        """Passages, the query vector, timings, and the collection's keyword index. With ``by_part``, each part of a
        many-part query that stands on its own brings its best passage (setting ``retrieve_parts``)."""
        started = time.perf_counter()
        collection = self.collection(collection_name)
        lexical = self._lexical.get(collection)
        vector = self.embedder.embed_query(query)
        timings = {"retrieve": time.perf_counter() - started, "rerank": 0.0}  # the embedding counts as retrieval

        def ranked(text: str, text_vector: Any) -> list[Passage]:
            retrieving = time.perf_counter()
            candidates = hybrid_search(
                collection,
                lexical,
                text,
                text_vector,
                candidates=self.settings.retrieval.candidates_k,
                limit=max(top_k * 3, 10),
                rrf_k=self.settings.retrieval.rrf_k,
                source_prefix=source_prefix,
                embed=self.embedder.embed,
            )
            reranking = time.perf_counter()
            timings["retrieve"] += reranking - retrieving
            passages = distinct_passages(self.reranker.rerank(text, candidates, len(candidates)))
            timings["rerank"] += time.perf_counter() - reranking
            return passages

        passages = ranked(query, vector)[:top_k]
        parts = question_parts(query) if by_part and self.settings.retrieval.retrieve_parts else []
        if len(parts) > 1:  # each part's best passage among them (app/retrieve.py: with_each_part), for the parts
            best = {  # that stand on their own ("which generator did that same person start?" retrieves nothing)
                part: found[0]
                for part in parts
                if not needs_context(part) and (found := ranked(part, self.embedder.embed_query(part)))
            }
            passages = with_each_part(passages, best, top_k)
        return passages, vector, timings, lexical

    # -- answering ---------------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        history: list[dict[str, str]] | None = None,
        *,
        collection: str | None = None,
        top_k: int | None = None,
        source_prefix: str | None = None,
    ) -> Iterator[Event]:
        """Answer ``question``: yields Retrieved, then Token pieces (if the LLM is called), then Final.

        While it answers, ingests into the same data dir pause (``core/answer_priority.py``).
        """
        with answering(self.settings.indexes_dir):
            yield from self._answer(question, history, collection, top_k, source_prefix)

    def _answer(
        self,
        question: str,
        history: list[dict[str, str]] | None,
        collection: str | None,
        top_k: int | None,
        source_prefix: str | None,
    ) -> Iterator[Event]:
        question = (question or "").strip()
        if not question:
            raise DocchatError("Ask a question: the text is empty.")
        # the last turns, leaving out exchanges docchat refused (an off-topic question holds nothing to refer to)
        turns, chars = self.settings.answer.history_turns, self.settings.answer.history_turn_chars
        asked_before = _checked_history(history or [])
        history = recent_history(answered_turns(asked_before), turns, chars)
        context = follow_up_history(asked_before, turns, chars)  # refused exchanges too when all were refused
        started = time.perf_counter()
        chat = small_talk(question)
        if chat is not None:  # "thanks!", "hello": a reply, not a search of the documents
            yield Retrieved([])
            yield _direct_reply(question, question, small_talk_reply(chat), "small_talk", started)
            return
        profile = self.profile
        rewriter = self.llm if profile.trust_rewrites and context else None
        standalone = standalone_question(question, context, rewriter)
        condensed_at = time.perf_counter()
        asks_overview = asks_for_overview(standalone) and not source_prefix
        overview = describe_collection(self.collection(collection)) if asks_overview else None
        if overview:  # "What is this document about?": what the collection holds
            yield Retrieved([])
            yield _direct_reply(question, standalone, overview, "overview", started)
            return
        # a rewritten follow-up's parts are about what the conversation is about, which its rewrite retrieves
        # already ("Who originally created Flask, and how did Flask start?"): only a question as asked is split
        by_part = standalone == question
        passages, vector, timings, lexical = self._retrieve(
            standalone, collection, top_k or self.settings.retrieval.top_k, source_prefix, by_part
        )
        embedding = lexical.embedding()  # (embedded, to embed) while an ingest embeds the collection
        timings["condense"] = condensed_at - started
        yield Retrieved(passages)

        def final(**fields: object) -> Final:
            timings["total"] = time.perf_counter() - started
            if embedding:
                fields["notice"] = " ".join(filter(None, [embedding_notice(*embedding), str(fields.get("notice", ""))]))
            answer = Answer(question=question, retrieved=passages, standalone_question=standalone,
                            timings=timings, **fields)  # fmt: skip
            return Final(answer)

        if (acronym := asked_acronym(standalone)) and (spelled := spelled_out(acronym, passages)):
            # "What does NIST stand for?": the passage's own words, found by their initials (no model, no gate: the
            # sentence that spells it out is far from the question in meaning)
            number, sentence, words = spelled
            said = f"{acronym.upper() if acronym.islower() else acronym} stands for {words}."
            citation = make_citation(number, passages[number - 1], sentence)
            yield final(answer=f"{said} [{number}]", abstained=False, mode="extractive",
                        sentences=[AnswerSentence(said, [number], True)], citations=[citation])  # fmt: skip
            return
        vectors = SentenceVectors(self.embedder.embed)  # the passages' sentences, embedded once for every check
        score_sentences(passages, vector, vectors)
        if nothing_relevant(passages, self.settings.retrieval.min_relevance):
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        notice=gate_notice(passages, self.settings.retrieval.min_relevance))  # fmt: skip
            return
        # "What's new in Python 3.11?" over passages that never say 3.11; "Which database does Odoo run on?" over
        # a collection that never says Odoo
        unmentioned = {*unmentioned_identifiers(standalone, passages)}
        unmentioned |= {*unmentioned_names(question, passages, lexical.never_mentions)}
        if not unmentioned:  # "How does PEP 703 make the Global Interpreter Lock optional?": each word is there
            unmentioned = {*unmentioned_phrases(question, passages, lexical.never_mentions_phrase)}
        if unmentioned:
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        notice=f"The passages found do not mention {', '.join(sorted(unmentioned))}.")  # fmt: skip
            return

        llm = self.llm
        budget = profile.passage_budget or None
        context = fit_passages(passages, vector, vectors, budget, lambda text: len(self.embedder.count_tokens(text)))
        pieces: list[str] = []
        guard = LoopGuard()
        held = ""  # text held back while it may still be the refusal marker (never shown as an answer)
        generation_started = time.perf_counter()
        stream = llm.stream_chat(answer_messages(question, context, history, profile.trust_refusals))
        try:
            for piece in stream:
                if not pieces:
                    timings["first_token"] = time.perf_counter() - started
                pieces.append(piece)
                held += piece
                if not may_be_marker(held):
                    yield Token(held)
                    held = ""
                if guard.feed(piece):  # a repetition loop: stop paying for it
                    break
        finally:
            stream.close()  # type: ignore[attr-defined]
        timings["generate"] = time.perf_counter() - generation_started
        generated = without_contradicted_opening(without_layout("".join(pieces), passages))
        if held and not is_refusal(generated):  # e.g. a reply that is just "No": it was not the marker after all
            yield Token(held)

        check_started = time.perf_counter()
        declined = is_refusal(generated)
        absent = (
            unmentioned_terms(standalone, generated, lexical.never_uses)
            if not declined and lexical.chunks >= ABSENT_WORD_MIN_CHUNKS
            else []
        )
        if absent:  # the answer is about what the question names and the collection never does
            timings["check"] = time.perf_counter() - check_started
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice=f"The documents never mention {', '.join(absent)}, which the question "
                        "asks about.")  # fmt: skip
            return
        if not declined and profile.self_check and generated:
            check = verify_messages(question, context, history, generated, profile.trust_refusals)
            verdict = llm.complete(check, max_tokens=2)
            declined = says_no(verdict)
            timings["self_check"] = time.perf_counter() - check_started
        if declined and profile.trust_refusals:
            timings["check"] = time.perf_counter() - check_started
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice="The model found no answer in the retrieved passages.")  # fmt: skip
            return
        near_best = on_topic(passages, self.settings.answer.cite_window) | pages_about(standalone, passages)
        citable = on_named_page(standalone, passages, near_best)
        expected = expected_answer(question)  # the asked turn's own form: a time, quantity, name, comparison, or none
        # what a quoted fact must be about; a yes/no question's quotes too ("Is Tornado a WSGI framework?" was quoted
        # with a line on WSGI and one on Tornado, neither saying both: fresh, twenty-third session)
        about = subject_names(standalone, passages) if expected or asks_yes_no(standalone) else set()
        if expected is Expected.REASON and about:  # a reason is given of the question's subject, its first name:
            # "Why is PostgreSQL recommended for Django projects?" by "... because PostgreSQL tends to be used ..."
            about = {min(about, key=lambda name: (standalone.lower().find(name), name))}
        # names the passages write as names, and those of the model's answer they hold ("Netflix", which they only
        # write at a sentence's start), for the checks below
        known = names_in(p.text for p in passages) | names_given(generated, (p.text for p in passages))

        def common(name: str) -> bool:  # a name the collection is about ("Python"), which answers need not repeat
            return lexical.share_mentioning(name) >= COMMON_NAME_SHARE

        # a name near every kind's word of a large collection ("Python developers use databases"); in the seed
        # document's 9 chunks, two make a name common
        def pervasive(name: str) -> bool:
            return lexical.chunks >= ABSENT_WORD_MIN_CHUNKS and common(name)

        def answers(text: str) -> bool:
            return expected is None or states(text, expected, standalone, known)

        beyond = terms_beyond_names(standalone)  # what an answer must say something of, beyond the question's names
        purpose = asked_purpose(standalone)  # "What does Reddit use for its frontend?": frontend, which a reply says

        def quotable(text: str) -> bool:
            return answers(text) and (not purpose or bool(said_of(purpose, text)))

        mode, notice, partial = "generated", "", ""
        asked = asked_kind(standalone)  # "intelligence agencies": the kind asked for, when the question names one
        # the kind quotes must say, when a name outside it replaced the model's answer; a default asked about, the
        # word ("What is the default branch name in Git?" was quoted with "I want to rename a branch": fresh,
        # twenty-fourth session)
        kind = DEFAULT_WORD if DEFAULT_WORD.search(standalone) else None
        if declined:  # an untrusted refusal (profile): quote the passages that passed the relevance gate instead
            notice = "The model found no answer, but the passages look relevant: these are direct quotes."
        elif has_loop(generated):
            notice = QUOTES_NOTICE
        else:
            checked = check_answer(generated, passages, vectors, self.thresholds, citable=citable, question=standalone,
                                   known=known, expected=expected)  # fmt: skip
            if checked.claims == 0 or checked.supported_share < self.settings.answer.min_supported_share:
                notice = QUOTES_NOTICE
            elif not answers(checked.supported_text):
                notice = f"The model's answer does not state {wanted_description(expected, standalone)}, which " \
                    "the question asks for; these are direct quotes instead."  # fmt: skip
            elif expected in _TERSE and stated_of_another(checked, expected, standalone, known, about, passages):
                notice = f"The model's answer states {wanted_description(expected, standalone)} only of something " \
                    "else; these are direct quotes instead."  # fmt: skip
            elif purpose and not said_of(purpose, checked.supported_text):  # "Reddit is built in Python ..."
                notice = "The model's answer does not address what the question asks; these are direct quotes " \
                    "instead."  # fmt: skip
            elif asked and (
                stray := outside_the_asked_kind(standalone, asked, checked.supported_text, passages, pervasive)
            ):
                notice = f"The passages do not call {', '.join(stray)} what the question asks for; these are " \
                    "direct quotes instead."  # fmt: skip
                kind = asked  # and the quotes are sentences that say it ("intelligence agencies")
            elif asked and kind_unaddressed(standalone, asked, checked.supported_text, passages):
                # "What editor does Netflix use?" answered "Netflix uses Python ..." over passages that never say it
                notice = "Neither the model's answer nor its passages say what the question asks for; these are " \
                    "direct quotes instead."  # fmt: skip
                kind = asked  # and the quotes must say it
            elif unsaid := unsaid_names(about, checked, passages):
                notice = f"The model's answer and its passages do not mention {', '.join(unsaid)}, which the " \
                    "question asks about; these are direct quotes instead."  # fmt: skip
            elif asks_yes_no(standalone) and beyond and not said_of(beyond, checked.supported_text):
                # "Is Odoo open source?" answered with what Odoo is (fresh, twenty-third session)
                notice = "The model's answer does not address what the question asks; these are direct quotes " \
                    "instead."  # fmt: skip
            elif not (expected in _TERSE or checked.bare) and (unsaid := unsaid_versions(standalone, checked)):
                notice = f"The model's answer does not mention {' or '.join(unsaid)}, which the question asks " \
                    "about; these are direct quotes instead."  # fmt: skip
                about = about | set(unsaid)  # and so must the quotes
            elif not (expected in _TERSE or checked.bare) and (unstated := unstated_subject(question, checked, common)):
                notice = f"The model's answer does not mention {' or '.join(unstated)}, which the question asks " \
                    "about; these are direct quotes instead."  # fmt: skip
                about = about | set(unstated)  # and so must the quotes
            else:  # "How many parameters did GPT-2 have, and how large are the GPT-3 variants?" answered in half
                checked, quoted_for = quote_missing_parts(checked, question, passages, vectors,
                                                          self.embedder.embed_query, citable, known,
                                                          standalone, common)  # fmt: skip
                if quoted_for:
                    partial = "The answer left out part of the question; quoted from the documents for: " + "; ".join(
                        f"“{part}”" for part in quoted_for
                    )
                checked = without_other_subjects(checked, standalone, known, common)  # "... Netflix uses Python ..."
                checked, invented = without_invented_identifiers(checked, passages, standalone)
                if invented:  # "... is the `slack_sdk` library." with no citation, over passages on slackclient
                    left_out = f"Left out a sentence naming {', '.join(invented)}, which no passage mentions."
                    partial = " ".join(filter(None, [partial, left_out]))
                if invented and beyond and not said_of(beyond, checked.supported_text):
                    # what is left says nothing of what was asked: "What is Odoo's license?" answered with what Odoo
                    # is, and an invented GPL (fresh, twenty-fourth session)
                    notice = "The model's answer does not address what the question asks; these are direct quotes " \
                        "instead."  # fmt: skip
        asks_name = notice and expected is Expected.NAME and profile.invented_name_refuses
        if asks_name and (made_up := invented_names(generated, passages, standalone)):
            # asked for a name, the model gave one no passage holds: the passages do not state it, and quotes on the
            # topic would only stand in for that ("Who founded Linode?" answered "... by Larry Wall.")
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice=f"The model named {', '.join(made_up)}, which no passage mentions: "
                        "the passages do not state the name asked for.")  # fmt: skip
            return
        if notice:
            # a rewrite that keeps the earlier question ("What is the encode databases project? Which web framework
            # is it handy for?") is far from the sentence that answers the turn: the turn as asked is read too
            readings = vector if standalone == question else np.stack([vector, self.embedder.embed_query(question)])
            checked = extractive_answer(readings, passages, vectors, question=standalone, citable=citable,
                                        wanted=quotable, about=about, kind=kind, beyond_names=True,
                                        min_similarity=self.settings.answer.min_quote_similarity)  # fmt: skip
            checked = without_other_subjects(checked, standalone, known, common)  # not "(5) Google ..." for Mozilla
            mode = "extractive"
            quoted = " ".join(sentence.text for sentence in checked.sentences if sentence.citations)
            stray: list[str] = []
            for pattern in filter(None, [asked, asked_noun(standalone)] if asked and kind is None else []):
                stray = stray or outside_the_asked_kind(standalone, pattern, quoted, passages, pervasive)
            if stray:
                # "Which Python web framework does Instagram use?" quoted with "Facebook (Meta) and Instagram use
                # Python 3 at scale." (fresh, twenty-fourth session): quotes name no thing of the kind asked for (nor,
                # where no passage says "web framework", of what they call a framework: Vue.js, Flask-RESTful)
                yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                            llm=llm.name, notice=f"The closest sentences name {', '.join(stray)}, which the passages "
                            "do not call what the question asks for.")  # fmt: skip
                return
            if asked and kind is None and quoted and kind_unaddressed(standalone, asked, quoted, passages):
                # "Which editor does Netflix use?" quoted with "Netflix uses Python ..." over the seed document, which
                # never says "editor": the quotes say nothing that was asked (twenty-sixth session)
                yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                            llm=llm.name, notice="Neither the closest sentences nor their passages say what the "
                            "question asks for.")  # fmt: skip
                return
        timings["check"] = time.perf_counter() - check_started
        if not checked.citations and expected is not None:  # no passage sentence states what was asked for
            wanted = wanted_description(expected, standalone) + (f" for {', '.join(sorted(about))}" if about else "")
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice=f"The closest passages do not state {wanted}, "
                        "which the question asks for.")  # fmt: skip
            return
        if not checked.citations and mode == "extractive":  # on the topic, but no sentence is about the question
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice="No sentence of the closest passages is about the question.")  # fmt: skip
            return
        owners = licence_owners(standalone)
        if owners and not any(states_licence_of(owners, citation) for citation in checked.citations):
            # "What license is Bottle released under?" answered with a tutorial's MIT licence, "Which license is
            # Flask released under?" with an example project's (fsp-123): the passages state others' licences only
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice=f"The closest passages state no licence of {', '.join(sorted(owners))}, "
                        "which the question asks for (only those of other projects or code).")  # fmt: skip
            return
        described = what_named_is(standalone)  # "What is MCP?" answered from "(7) AI (LLM, RAG, MCP, Agents)"
        if described and only_listed(described, (citation.quote for citation in checked.citations)):
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice=f"The closest passages only list {described} among other items; none "
                        "says what it is.")  # fmt: skip
            return
        elsewhere = unquoted_names(question, checked, focus_terms(question)) if mode == "extractive" else []
        if elsewhere:  # quotes on the topic that never name what the question is about
            notice = f"The closest sentences do not mention {', '.join(elsewhere)}."
            yield final(answer=refusal_text(), abstained=True, mode="abstained", citations=[], sentences=[],
                        llm=llm.name, notice=notice)  # fmt: skip
            return
        yield final(answer=checked.text(), abstained=False, mode=mode, citations=checked.citations,
                    sentences=checked.sentences, llm=llm.name, notice=notice or partial)  # fmt: skip

    def ask(self, question: str, history: list[dict[str, str]] | None = None, **options: object) -> Answer:
        """Answer ``question`` and return the final, checked answer (no streaming)."""
        for event in self.stream(question, history, **options):  # type: ignore[arg-type]
            if isinstance(event, Final):
                return event.answer
        raise DocchatError("The answer engine stopped without an answer.")  # pragma: no cover


def _direct_reply(question: str, standalone: str, text: str, mode: Mode, started: float) -> Final:
    """A reply that needs no passages (small talk, an overview of the collection): no citations, no model call."""
    timings = {"total": time.perf_counter() - started}
    return Final(Answer(question=question, answer=text, abstained=False, mode=mode, citations=[], retrieved=[],
                        sentences=[], standalone_question=standalone, timings=timings))  # fmt: skip


def gate_notice(passages: list[Passage], min_relevance: float) -> str:
    """Why the relevance gate refused: what the closest passage reached, against the setting that decides."""
    if not passages:
        return "No passage of the collection (or of the folder it was limited to) matches the question."
    return (
        f"No passage is close enough to the question: the closest reaches a relevance of "
        f"{best_relevance(passages):.2f}, and an answer needs {min_relevance:.2f} (DOCCHAT_MIN_RELEVANCE)."
    )


def embedding_notice(done: int, total: int) -> str:
    """What an answer says while its collection's new chunks are still being embedded."""
    return (
        f"This collection is still being ingested ({done:,} of the {total:,} new chunks read so far are embedded): "
        "keyword search covers all that was read, meaning-based search only the embedded part."
    )


def _checked_history(history: list[dict[str, str]]) -> list[dict[str, str]]:
    """Validate chat history turns: ``{"role": "user"|"assistant", "content": str}``."""
    checked = []
    for number, turn in enumerate(history, start=1):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise DocchatError(f"History turn {number} needs a role of 'user' or 'assistant'.")
        if not isinstance(turn.get("content"), str):
            raise DocchatError(f"History turn {number} needs a text 'content'.")
        checked.append({"role": turn["role"], "content": turn["content"]})
    return checked


__all__ = ["Engine", "Event", "Final", "Retrieved", "Token"]
