"""The expected answer type (issue 13): which questions ask for a time, a quantity or a name, and which
texts state one. Questions here are not from the eval sets."""

from __future__ import annotations

import pytest

from docchat.app.answer_type import Expected, expected_answer, names_in, states


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did Spotify adopt Python?", Expected.TIME),
        ("In which year was the Pyramid framework released?", Expected.TIME),
        ("So what year did they switch?", Expected.TIME),
        ("How many servers does the team run?", Expected.QUANTITY),
        ("How long does a deploy take, and who approves it?", Expected.QUANTITY),  # the first clause decides
        ("What's the memory limit of a free dyno?", Expected.QUANTITY),
        ("Which version of Node.js does the tool need?", Expected.QUANTITY),
        ("What port does Sanic listen on by default?", Expected.QUANTITY),  # a port is a number
        ("Who maintains the requests library?", Expected.NAME),
        ("Whose style guide does the page recommend?", Expected.NAME),
        ("Which company acquired the startup?", Expected.NAME),
        ("What database does the CMS store pages in?", Expected.NAME),
        ("Which projects does the agency publish?", Expected.NAME),
        ("What source is given for the Odoo example?", Expected.NAME),  # fourteenth session: sources, authors, sites
        ("Which site can you search for government jobs on?", Expected.NAME),
        ("What does the site recommend for a technical demo?", None),  # "the site" is who recommends, not what
        ("Which teams at the bank write Go?", Expected.NAME),
        ("What's the name of the tool that formats the code?", Expected.NAME),
        ("What is the company's chat app called, and who runs it?", Expected.NAME),
        ("Which template engine does the framework ship with?", Expected.NAME),
        ("Which license is the generator released under?", Expected.NAME),
        ("What kind of organization runs PyPI?", None),  # a description, not a name
        ("Who is Ada Lovelace?", None),  # who she is: a description (fresh, twentieth session)
        ("What is the startup's primary programming language?", Expected.SUPERLATIVE),  # twenty-first session
        ("What is the main difference between the two engines?", None),  # "main" of no kind of name
        ("and who was Grace Hopper?", None),
        ("Who is the CEO of the startup?", Expected.NAME),
        ("Who is Ada's employer?", Expected.NAME),
        ("What is a message queue?", None),
        ("Which topics does the chapter cover?", None),
        ("Does Flask ship an ORM?", None),
        ("Why do teams pick Go for services?", Expected.REASON),  # twenty-eighth session
        ("How come the build is slow?", Expected.REASON),
        ("and why?", Expected.REASON),
        ("Is Bottle faster than Flask for small apps?", Expected.COMPARISON),
        ("Does the bank write more Go than Java?", Expected.COMPARISON),
        ("Is Peewee easier to learn than SQLAlchemy?", Expected.COMPARISON),
        ("Can it run languages other than Python?", None),  # "other than" compares nothing
        ("Is there a web server other than Nginx on the page?", None),
        ("Are there more than 100 posts?", None),  # a number to compare with, not a comparison
        ("What is the fastest template engine for the framework?", Expected.SUPERLATIVE),  # sixteenth session
        ("Which team ships the most releases?", Expected.NAME),  # a name, with a superlative (see below)
        ("What do most teams deploy with?", None),  # "most" teams: no superlative asked
        ("What is the test runner of the framework?", None),  # not a superlative's -est
    ],
)
def test_the_kind_of_fact_a_question_asks_for(question: str, expected: Expected | None) -> None:
    assert expected_answer(question) == expected


@pytest.mark.parametrize(
    ("text", "expected", "question", "holds"),
    [
        ("The project began in mid-1998 as a fork.", Expected.TIME, "When did it begin?", True),
        ("It was released three years ago.", Expected.TIME, "When was it released?", True),
        ("It was first released in March.", Expected.TIME, "When was it released?", True),
        ("The framework is fast and small.", Expected.TIME, "When was it released?", False),
        ("Most of the code base is Python.", Expected.QUANTITY, "How much of it is Python?", True),
        ("They run 40 servers.", Expected.QUANTITY, "How many servers?", True),
        ("They run a fleet of servers.", Expected.QUANTITY, "How many servers?", False),
        ("Flask is slower than Bottle.", Expected.COMPARISON, "Is Bottle faster than Flask?", True),
        ("Bottle is faster.", Expected.COMPARISON, "Is Bottle faster than Flask?", True),
        ("Bottle is a single-file framework.", Expected.COMPARISON, "Is Bottle faster than Flask?", False),
        ("Instrumenting Sanic Applications, Part 1 adds monitoring.", Expected.QUANTITY, "What port?", False),
        ("They've been very vocal about the migration.", Expected.REASON, "Why did they migrate?", False),
        ("They migrated because Python 2 reached its end.", Expected.REASON, "Why did they migrate?", True),
        ("Celery is used to run work outside the request.", Expected.REASON, "Why use Celery?", True),
        ("The migration went from Python 2 to Python 3.", Expected.REASON, "Why did they migrate?", False),
        ("Sanic listens on port 8000.", Expected.QUANTITY, "What port?", True),
        ("Caddy is a web server written in Go.", Expected.NAME, "Who created Caddy?", False),  # Go made no Caddy
        ("Caddy is a web server written in Go.", Expected.NAME, "Which language is Caddy written in?", True),
        ("Caddy was created in 2015 by Matt Holt.", Expected.NAME, "Who created Caddy?", True),
        ("Matt Holt originally created Caddy.", Expected.NAME, "Who created Caddy?", True),
        ("Caddy's creator is Matt Holt.", Expected.NAME, "Which person built Caddy?", True),
        ("Django REST framework is widely used with Django.", Expected.NAME, "Which company created Django?", False),
        ("Gunicorn is a WSGI server used with Nginx.", Expected.NAME, "Which company maintains Gunicorn?", False),
        ("Gunicorn is maintained by Benoit Chesneau.", Expected.NAME, "Which company maintains Gunicorn?", True),
        ("Caddy is a relatively new web server.", Expected.NAME, "Who created Caddy?", False),  # only Caddy
        ("The library was written by Kenneth Reitz.", Expected.NAME, "Who wrote requests?", True),
        ("The stack of Uber's is large.", Expected.NAME, "Which languages does Uber use?", False),  # possessive
        ("NASA open sources much of its software.", Expected.NAME, "Which agency open sources it?", True),
        ("YouTube runs on Python.", Expected.NAME, "Which site runs on Python?", True),
        ("Python runs YouTube.", Expected.NAME, "Which site does Python run?", True),
        ("Python is used widely.", Expected.NAME, "Which site uses Python widely?", False),  # an opening word
        ("The site is run on Python.", Expected.NAME, "Which site runs on Python?", False),  # its full stop
        ("Its interface is cx_Oracle.", Expected.NAME, "What is the Oracle interface called?", True),  # code names
        ("it ships as bottle.py.", Expected.NAME, "What is its source file called?", True),
        ("it ships as one file.", Expected.NAME, "What is its source file called?", False),
        ("It ships as app.py.", Expected.NAME, "Does app.py ship?", False),  # a code name the question holds
        ("The variants of GPT-3 are large.", Expected.QUANTITY, "How large are they?", False),  # a name's digit
        ("The variants range up to 175B.", Expected.QUANTITY, "How large are they?", True),
        # a number the question holds is no answer: the move from Python 2 to 3 says nothing of how long it took
        ("They left Python 2 for Python 3.", Expected.QUANTITY, "How long did the Python 2 to 3 move take?", False),
        ("The move took 5 years.", Expected.QUANTITY, "How long did the Python 2 to 3 move take?", True),
        ("(3) NASA runs Python.", Expected.QUANTITY, "How many NASA projects run Python?", False),  # numbering
        ("Python 2.7 support ended.", Expected.TIME, "When did Python 2.7 support end?", False),
        ("Python 2.7 support ended in 2020.", Expected.TIME, "When did Python 2.7 support end?", True),
        # a year asked for is no duration (fresh, thirteenth session)
        ("Two months with PowerShell on UNIX.", Expected.TIME, "What year was PowerShell first released?", False),
        ("Two months with PowerShell on UNIX.", Expected.TIME, "When was PowerShell first released?", True),
        ("PowerShell was first released in 2006.", Expected.TIME, "What year was PowerShell first released?", True),
        ("It began in the 1990s.", Expected.TIME, "In which decade did it begin?", True),
        # a number word inside a compound is no amount (fresh, twelfth session: "How much does Odoo cost?")
        ("Odoo is an all-in-one management software.", Expected.QUANTITY, "How much does Odoo cost?", False),
        ("Odoo offers one suite of business apps.", Expected.QUANTITY, "How many suites does Odoo offer?", True),
        # a name's version is no amount, unless a version is asked for (fresh, thirteenth session)
        ("SQLite ships with Python 2.5.", Expected.QUANTITY, "What is the maximum database size of SQLite?", False),
        ("SQLite 3.9.0+ has json1.", Expected.QUANTITY, "What is the maximum database size of SQLite?", False),
        ("SQLite databases reach 281 TB.", Expected.QUANTITY, "What is the maximum database size of SQLite?", True),
        ("SQLite ships with Python 2.5.", Expected.QUANTITY, "Which Python version ships SQLite?", True),
        # a measure is stated in figures (fsp-097): "single" and "one" count only for "how many/much"
        ("It is a single file-based database.", Expected.QUANTITY, "What is the maximum size of SQLite?", False),
        ("One team stuck with SQLite.", Expected.QUANTITY, "What is the maximum database size of SQLite?", False),
        ("It is a single file-based database.", Expected.QUANTITY, "How many files does SQLite use?", True),
        ("The Eco plan is free.", Expected.QUANTITY, "What is the price of the Eco plan?", True),
        ("Its free edition is XE.", Expected.QUANTITY, "What's the storage limit of the free XE edition?", False),
        ("Its free edition is XE.", Expected.QUANTITY, "What is the price of the free XE edition?", False),
        ("Sanic listens on port 8000 by default.", Expected.QUANTITY, "What port does Sanic use?", True),
        # a date is no amount, nor a number word the question holds, unless time is measured (fsp-038)
        ("It began five years ago, on December 23, 2012.", Expected.QUANTITY, "How big was it at five?", False),
        ("It began five years ago, in 2012.", Expected.QUANTITY, "How big was it at five?", False),
        ("It has 120,000 words and 150+ pages.", Expected.QUANTITY, "How big was it at five?", True),
        ("It began in 2012.", Expected.QUANTITY, "How old is it?", True),
        ("It ran from 2010 to 2015.", Expected.QUANTITY, "How many years did the move take?", True),
        ("It began with commit 69f5f46.", Expected.QUANTITY, "How big was it?", False),  # a hash is no amount
        # a share answers "how much of" (seed-069), not "how many" (seed-052)
        ("A significant portion of Reddit is Python.", Expected.QUANTITY, "How much of Reddit is Python?", True),
        ("A significant portion of Reddit is Python.", Expected.QUANTITY, "How many lines does Reddit have?", False),
        ("Most of the lines of code are Python.", Expected.QUANTITY, "How many lines does YouTube have?", False),
        ("Most of the lines of code are Python.", Expected.QUANTITY, "How many of its lines are Python?", True),
        ("A large part of it is Python.", Expected.QUANTITY, "Which site is big? How much of it is Python?", True),
        # "one" counts what it is one of (seed-052), a year before a noun is a date (sixteenth session)
        ("Systems start as one Python file.", Expected.QUANTITY, "How many lines of code does the site have?", False),
        ("The team won once.", Expected.QUANTITY, "How many times did the team win?", True),
        ("It has one hundred thousand readers.", Expected.QUANTITY, "How many readers does it have?", True),
        # a count of something else is no answer to a one-clause "how many" (fsp-100, eighteenth session) ...
        ("It has one hundred thousand readers.", Expected.QUANTITY, "How many pages does it have?", False),
        ("It has 150+ pages and a hundred thousand readers.", Expected.QUANTITY, "How many pages does it have?", True),
        ("It had its 3000th commit after 5ish years.", Expected.QUANTITY, "How many words did it have?", False),
        ("The site now has over 120,000 words.", Expected.QUANTITY, "How many words did it have?", True),
        ("Two companies use it.", Expected.QUANTITY, "How many companies use it?", True),  # either number
        ("You can run 4 workers per core.", Expected.QUANTITY, "How many Gunicorn workers run per core?", True),
        # ... of the plural a name qualifies, not of the name (fresh, twentieth session)
        ("Gunicorn runs 4 processes.", Expected.QUANTITY, "How many Gunicorn workers run per core?", False),
        (
            "Google supports Python as one of its three core languages.",
            Expected.QUANTITY,
            "How many Python developers does Google employ?",
            False,
        ),
        ("It has 4 employees.", Expected.QUANTITY, "How many employees does it have?", True),
        # ... but what anything is counted in need not be said, nor in a question of two clauses (GPT-2's
        # "parameters" for "how large are the GPT-3 variants")
        ("Thousands of employees use it.", Expected.QUANTITY, "How many people use it?", True),
        ("It took 5 years.", Expected.QUANTITY, "How many years did it take?", True),
        (
            "GPT-3 ranges up to 175 billion.",
            Expected.QUANTITY,
            "How many parameters did GPT-2 have, and how large is GPT-3?",
            True,
        ),
        ("The team wrote a 2019 update on it.", Expected.QUANTITY, "How many people are on the team?", False),
        ("The team has 2019 members.", Expected.QUANTITY, "How many people are on the team?", True),
        # "written in" asks for a language, not who wrote it: a credit line is no answer (fresh, twentieth session)
        ("Source: python.org", Expected.NAME, "What language is Odoo's frontend written in?", False),
        ("Source: python.org", Expected.NAME, "Where was the Odoo example written?", True),
        # "Who said ...?" asks who the words are credited to (fresh, twenty-first session)
        ("Source: Ada Lovelace", Expected.NAME, "Who said that engines weave patterns?", True),
        ("Source: Ada Lovelace", Expected.NAME, "Who maintains the loom?", False),
        ("Ada Lovelace said so in 1843.", Expected.NAME, "Who said that engines weave patterns?", True),
        ("They have been vocal about Babbage's engine.", Expected.NAME, "Who said that engines weave patterns?", False),
        # a superlative is answered by a degree, whatever else is asked (seed-077, sixteenth session)
        ("NASA uses Python extensively.", Expected.NAME, "Which agency uses Python the most?", False),
        ("NASA uses Python more than any agency.", Expected.NAME, "Which agency uses Python the most?", True),
        ("Melpa is a package archive.", Expected.SUPERLATIVE, "What is the largest package archive?", False),
        # "primary", "main": a degree said of a kind of name (fresh, twenty-first session: seed-095)
        ("The startup uses Go at scale.", Expected.SUPERLATIVE, "What is the startup's primary language?", False),
        ("Go is one of its core languages.", Expected.SUPERLATIVE, "What is the startup's main language?", True),
        ("Melpa is the largest package archive.", Expected.SUPERLATIVE, "What is the largest package archive?", True),
        ("The Apache server is the most deployed.", Expected.NAME, "Which server is the most deployed, and why?", True),
        # the degree the question asks: "one of the largest sites" does not say which server is the most popular
        ("The site Reddit is one of the largest.", Expected.NAME, "Which web server is the most popular?", False),
        ("The Nginx server is more popular.", Expected.NAME, "Which web server is the most popular?", True),
        ("The Bottle framework is simpler.", Expected.NAME, "Which framework is the simplest?", True),
    ],
)
def test_whether_a_text_states_it(text: str, expected: Expected, question: str, holds: bool) -> None:
    assert states(text, expected, question) is holds


def test_a_sentences_first_word_is_a_name_where_the_passages_write_it_as_one() -> None:
    passages = ["Most sites run the Apache web server. Nginx comes second.", "Many teams deploy it."]
    known = names_in(passages)
    assert "apache" in known and "many" not in known and "most" not in known  # only inside a sentence
    question = "Which web server is the most common?"
    assert states("Apache is the most common web server.", Expected.NAME, question, known)
    assert not states("Apache is the most common web server.", Expected.NAME, question)  # not known: a capital
    assert not states("Many sites run one.", Expected.NAME, question, known)


def test_identifiers_and_versions_the_passages_never_mention() -> None:
    from docchat.app.citations import unmentioned_identifiers
    from docchat.app.schema import Passage

    passages = [Passage("a", "Celery's prefetch settings; Python 3.10 support.", "x.md", "X", "", 1, 2)]
    question = "What should worker_prefetch_multiplier be on Python 3.11?"
    assert unmentioned_identifiers(question, passages) == ["3.11", "worker_prefetch_multiplier"]
    assert unmentioned_identifiers("Does Python 3.10 work, e.g. with Celery in 2019?", passages) == []


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Which database does Odoo run on?", {"odoo"}),
        ("What's the storage limit of the free Oracle Database XE edition?", {"oracle", "database", "xe"}),
        ("Tell me about the Flask web framework. Who originally created it?", {"flask"}),  # "Tell", "Who": position
        ("Besides Python, which languages does Uber mix in?", {"python", "uber"}),
        ("Which site lists US government jobs?", set()),  # "US" is the stop word "us": not checked
        ("what does odoo run on?", set()),  # typed in lower case: nothing is taken as a name
        ("How does app.run() start Flask 2.0?", {"flask"}),  # identifiers and versions: unmentioned_identifiers
        ("Who wrote the book Two Scoops of Django?", {"scoops", "django"}),  # a number (the site: "2 Scoops")
    ],
)
def test_the_names_a_question_asks_about(question: str, names: set[str]) -> None:
    from docchat.app.citations import asked_names

    assert asked_names(question) == names


def test_names_the_collection_never_mentions() -> None:
    from docchat.app.citations import unmentioned_names
    from docchat.app.schema import Passage

    passages = [Passage("a", "It is an ERP suite written in Python.", "erp.md", "Odoo", "Overview", 1, 2)]
    collection = {"odoo", "erp", "python", "postgresql"}  # stands in for the keyword index's vocabulary

    def never(name: str) -> bool:
        return name not in collection

    assert unmentioned_names("Which database does Odoo run on?", passages, never) == []  # the title names it
    assert unmentioned_names("Does Odoo run on Oracle or PostgreSQL?", passages, never) == ["oracle"]
    assert unmentioned_names("Which database does Tryton run on?", passages, never) == ["tryton"]


@pytest.mark.parametrize(
    ("question", "phrases"),
    [
        (
            "How does PEP 703 make the Global Interpreter Lock optional in CPython?",
            ["PEP 703", "Global Interpreter Lock"],
        ),
        ("What is the National Security Agency's Python style guide called?", ["National Security Agency"]),
        ("How much does Heroku's Eco dyno plan cost?", []),  # not across a possessive
        ("Does Amazon Web Services (AWS) run Python 2.7, Django or Flask?", ["Amazon Web Services", "Python 2.7"]),
        ("Which Python Web Frameworks Support WebSockets?", []),  # title case: its capitals mark no names
        ("Jupyter Notebook runs which languages?", []),  # a sentence's first word may be capitalised by position
        ("PyCon US talks on Django?", []),  # "US" reads as the stop word "us"
        ("Who is Guido van Rossum?", []),  # one capitalised word at a time
    ],
)
def test_the_names_of_several_words_a_question_asks_about(question: str, phrases: list[str]) -> None:
    from docchat.app.citations import asked_phrases

    assert asked_phrases(question) == phrases


def test_names_of_several_words_the_collection_never_holds() -> None:
    from docchat.app.citations import unmentioned_phrases
    from docchat.app.schema import Passage
    from docchat.components.words import holds_phrase, phrase_text

    text = "Threads share one global lock. Both Microsoft and Windows are named here, and so is Django."
    passages = [Passage("a", text, "gil.md", "Python Threads", "Locks", 1, 2)]
    collection = phrase_text("pep 8 and pep 20; the interpreter lock; class-based views")  # the keyword index's

    def never(phrase: str) -> bool:
        return not holds_phrase(collection, phrase_text(phrase))

    question = "How does PEP 703 make the Global Interpreter Lock optional?"
    assert unmentioned_phrases(question, passages, never) == ["PEP 703", "Global Interpreter Lock"]
    assert unmentioned_phrases("Does PEP 8 cover Python Threads?", passages, never) == []  # held by both
    # names side by side, each a name the passages write or words the collection holds, are not one name
    assert unmentioned_phrases("Can I run Python on Microsoft Windows?", passages, never) == []
    assert unmentioned_phrases("What are Django Class Based Views?", passages, never) == []
    assert unmentioned_phrases("What are Django Class Based Routers?", passages, never) == [
        "Django Class Based Routers"
    ]
    # a run longer than a name (a heading typed in capitals) is not read as one, nor split at the index's cost
    long_run = "Which Alpha Beta Gamma Delta Epsilon Zeta Eta routers run here?"
    assert unmentioned_phrases(long_run, passages, never) == []


def test_quotes_that_name_none_of_what_was_asked_about() -> None:
    from docchat.app.citations import CheckedAnswer, unquoted_names
    from docchat.app.schema import AnswerSentence, Citation

    def quoting(sentence: str, heading: str = "") -> CheckedAnswer:
        citation = Citation(1, "a.md", "Web servers", heading, (1, 2), sentence, sentence)
        return CheckedAnswer([AnswerSentence(f"“{sentence}”", [1])], [citation], claims=1, supported=1)

    websphere = quoting("Companies that use IBM WebSphere write Jython scripts.")
    assert unquoted_names("Which web framework is Reddit built on?", websphere) == ["reddit"]
    assert unquoted_names("Does WebSphere run Jython or CPython?", websphere) == []  # one of them is named
    assert unquoted_names("Which web framework does it use?", websphere) == []  # the question names nothing
    under_heading = quoting("It runs a large Python monolith.", heading="Large companies > Reddit")
    assert unquoted_names("Which web framework is Reddit built on?", under_heading) == []
    django_orm = quoting("The Django ORM is included with Django.", heading="Django ORM")
    pyramid = "Which ORM does Pyramid include by default?"
    assert unquoted_names(pyramid, django_orm) == []  # "ORM" is named ...
    assert unquoted_names(pyramid, django_orm, {"orm"}) == ["pyramid"]  # ... but an ORM is what is asked for


def test_the_name_a_sentence_opens_with() -> None:
    from docchat.app.answer_type import opening_name, same_name

    assert opening_name("NASA uses Python extensively.") == "nasa"  # its letters mark it
    assert opening_name("The CIA uses Python.") == "cia"
    assert opening_name("(3) Netflix uses Python.", frozenset({"netflix"})) == "netflix"  # a name the passages use
    assert opening_name("Caddy is a web server.") is None  # a capitalised first word alone is no name
    assert opening_name("The Python Software Foundation is a non-profit.") == "python software foundation"
    assert opening_name("I gave this talk to Ubiquity.VC founders.") is None  # no name among the first words
    assert same_name("psf", "python software foundation") and same_name("apache", "apache http server")
    assert not same_name("cia", "nasa")


def test_the_names_a_models_answer_gives() -> None:
    from docchat.app.answer_type import names_given

    passages = ["(3) Netflix uses Python to run chaos engineering tests.", "Many teams glue code. So do many more."]
    assert names_given("Netflix", passages) == {"netflix"}  # only ever capitalised in the passages
    assert names_given("Many teams use Python at Netflix.", passages) == {"netflix", "python"}  # not "many"
    assert names_given("Spotify", passages) == set()  # not in the passages
    # code beside the prose does not count against a name (fresh, twelfth session)
    braintree = "Braintree's Flask example payments app shows this provider's API.\n# app.py\nimport braintree"
    assert names_given("Braintree's example app.", [braintree]) == {"braintree"}
    assert names_given("Braintree's example app.", [braintree + "\nThe braintree client is small."]) == set()


def test_what_a_notice_says_the_question_wants() -> None:
    from docchat.app.answer_type import asks_creator, wanted_description

    assert asks_creator("Who created the Caddy web server?") and asks_creator("Which company maintains Gunicorn?")
    assert asks_creator("Who originally designed Flask, and when?")
    assert not asks_creator("Who uses Flask?")
    # the maker as a noun (fresh, twenty-fifth session); not who a name is
    assert asks_creator("Who is the current maintainer of Celery?") and asks_creator("Who's the author of Flask?")
    assert not asks_creator("Who is Matt Makai?")
    assert not asks_creator("Which framework does Reddit use, and who built it?")  # the first clause only
    credited = "a name credited with it (such as “created by …”)"
    assert wanted_description(Expected.NAME, "Who founded Sentry?") == credited
    assert wanted_description(Expected.NAME, "Which companies use Flask?") == "a name"
    superlative = "a name and a superlative (such as “the most”)"
    assert wanted_description(Expected.NAME, "Which agency uses it the most?") == superlative


def test_a_credit_names_a_maker_not_what_inspired_or_powers_it() -> None:
    """Fresh, twenty-fourth session: "who created the Jinja2 template engine" was answered with "Jinja2's syntax is
    inspired by Django's built-in template engine ... Jinja2 built upon the concepts of other template engines": "by
    Django" and "Django built" read as credits. A participle before "by" credits only when it is a maker's."""
    question = "Who created the Jinja2 template engine?"
    assert not states("Jinja2's syntax is inspired by Django's built-in template engine.", Expected.NAME, question)
    assert not states("Jinja2 built upon the concepts of other template engines.", Expected.NAME, question)
    assert not states("The Twilio documentation is powered by Wagtail.", Expected.NAME, "Who maintains Wagtail?")
    assert states("Jinja2 was created by Armin Ronacher.", Expected.NAME, question)
    assert states("Armin Ronacher built Jinja2.", Expected.NAME, question)
    written = "Full Stack Python is coded and written by Matt Makai."
    assert states(written, Expected.NAME, "Who maintains the Full Stack Python site?")
    assert states("Collab by the U.S. government's CFPB agency is an intranet.", Expected.NAME, "Who built Collab?")


def test_a_makers_noun_credits_only_with_a_name_beside_it() -> None:
    """Fresh, twenty-eighth session: "Who created the Pyramid web framework?" was quoted with "This podcast
    interview with the primary author of the Pyramid framework explains how Pyramid sprang from Pylons ...": a
    maker's noun with no name of its own beside it credits no one."""
    question = "Who created the Pyramid web framework?"
    podcast = ("A video from San Francisco Python shows the framework. This podcast interview with the primary author "
               "of the Pyramid framework explains how Pyramid sprang from Pylons.")  # fmt: skip
    assert not states(podcast, Expected.NAME, question)
    assert states("Chris McDonough, the primary author of Pyramid, explains it.", Expected.NAME, question)
    assert states("The creator of Pyramid, Chris McDonough, explains it.", Expected.NAME, question)
    assert states("Guido van Rossum is the creator of Python.", Expected.NAME, "Who created Python?")


@pytest.mark.parametrize(
    ("question", "purpose"),
    [
        ("What does Reddit use for its frontend?", {"frontend"}),
        ("what do companies use to deploy Flask apps", {"deploy", "flask", "app"}),
        ("What does Mozilla use Python for?", set()),
        ("What is Jupyter Notebook used for?", set()),
        ("Which company uses Python for chaos engineering?", set()),
    ],
)
def test_the_purpose_a_what_does_x_use_for_question_names(question: str, purpose: set[str]) -> None:
    from docchat.app.answer_type import asked_purpose

    assert asked_purpose(question) == purpose
