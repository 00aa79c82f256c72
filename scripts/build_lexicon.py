"""Build the skills lexicon shipped as ``cv_evaluator/evaluation/data/skills_lexicon.json``.

Sources (both free to reuse with attribution, see ``data/ATTRIBUTION.md``):

* O*NET 29.2 Technology Skills (``technology_skills.txt``): tools and technologies with their
  commodity category and "Hot Technology" flag.
* ESCO v1.1.0 skill labels (``skills_en_label.txt``): short labels only (at most three words),
  since longer ones never occur verbatim in CVs.
* A hand-curated alias table (below) for the names people actually write: "Postgres", "k8s",
  "JS", "GCP", "CI/CD", "LLM", "RAG" ...

Usage::

    python scripts/build_lexicon.py ../shared/datasets/onet/technology_skills.txt \
        ../shared/datasets/esco-skills/skills_en_label.txt \
        src/cv_evaluator/evaluation/data/skills_lexicon.json \
        --occupations ../shared/datasets/onet/occupation_data.txt

The output is deterministic: same inputs, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

LEXICON_VERSION = "2026.11.29"

# canonical name, category, aliases. A leading "=" marks an alias that is matched case-sensitively
# because in lower case it is an ordinary English word ("Go", "React", "Spring").
CURATED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Python", "programming language", ("python3", "python 3", "cpython")),
    ("JavaScript", "programming language", ("=JS", "ecmascript", "es6", "javascript es6")),
    ("TypeScript", "programming language", ("=TS",)),
    ("Java", "programming language", ("java se", "java ee", "jakarta ee", "=J2EE")),
    ("Go", "programming language", ("golang", "=Go")),
    ("Rust", "programming language", ("=Rust",)),
    ("C", "programming language", ("=C", "ansi c", "c language")),
    ("C++", "programming language", ("cpp", "c plus plus")),
    ("C#", "programming language", ("c sharp", "csharp")),
    ("Kotlin", "programming language", ()),
    ("Scala", "programming language", ()),
    ("Ruby", "programming language", ("=Ruby",)),
    ("PHP", "programming language", ()),
    ("Swift", "programming language", ("=Swift",)),
    ("R", "programming language", ("=R", "r language", "r programming")),
    ("SQL", "query language", ("structured query language", "t-sql", "tsql", "pl/sql", "plsql")),
    ("Bash", "programming language", ("shell scripting", "bash scripting", "=Shell")),
    ("Elixir", "programming language", ()),
    ("FastAPI", "web framework", ("fast api",)),
    ("Django", "web framework", ("django rest framework", "drf")),
    ("Flask", "web framework", ("=Flask",)),
    ("Node.js", "runtime", ("nodejs", "node js", "=Node")),
    ("Express.js", "web framework", ("expressjs", "=Express")),
    ("Spring Boot", "web framework", ("springboot", "=Spring")),
    ("Ruby on Rails", "web framework", ("=Rails", "=RoR")),
    ("ASP.NET", "web framework", ("asp.net core", "asp net")),
    (".NET", "runtime", ("dotnet", ".net core", ".net framework")),
    ("React", "frontend framework", ("react.js", "reactjs", "=React")),
    ("Angular", "frontend framework", ("angularjs", "angular.js")),
    ("Vue.js", "frontend framework", ("vuejs", "=Vue")),
    ("Next.js", "frontend framework", ("nextjs",)),
    ("asyncio", "python library", ("async io", "async/await")),
    ("Celery", "task queue", ()),
    ("SQLAlchemy", "python library", ()),
    ("Pydantic", "python library", ()),
    ("pytest", "testing tool", ("py.test",)),
    ("pandas", "python library", ("=Pandas",)),
    ("NumPy", "python library", ()),
    ("scikit-learn", "machine learning library", ("sklearn", "scikit learn")),
    ("PyTorch", "machine learning library", ()),
    ("TensorFlow", "machine learning library", ("tensor flow",)),
    ("REST", "api style", ("rest api", "rest apis", "restful", "restful api", "restful apis")),
    ("GraphQL", "api style", ()),
    ("gRPC", "api style", ("grpc",)),
    ("OpenAPI", "api style", ("swagger",)),
    ("WebSockets", "api style", ("websocket",)),
    ("Microservices", "architecture", ("microservice", "micro-services", "micro services")),
    ("Event-driven architecture", "architecture", ("event driven", "event-driven")),
    ("Distributed systems", "architecture", ("distributed system",)),
    ("System design", "architecture", ("systems design",)),
    ("PostgreSQL", "database", ("postgres", "postgre", "psql", "pgsql")),
    ("MySQL", "database", ("mariadb",)),
    ("SQLite", "database", ()),
    ("Microsoft SQL Server", "database", ("sql server", "mssql", "ms sql")),
    ("Oracle Database", "database", ("oracle db",)),
    ("MongoDB", "database", ("mongo",)),
    ("Redis", "database", ()),
    ("Elasticsearch", "database", ("elastic search", "opensearch")),
    ("Cassandra", "database", ("apache cassandra",)),
    ("DynamoDB", "database", ("amazon dynamodb", "dynamo db")),
    ("Relational databases", "database", ("relational database", "rdbms")),
    ("NoSQL", "database", ("nosql databases", "no-sql")),
    (
        "Vector database",
        "database",
        ("vector databases", "vector db", "vector store", "vector stores"),
    ),
    ("pgvector", "database", ("pg vector",)),
    ("Pinecone", "database", ()),
    ("Qdrant", "database", ()),
    ("Weaviate", "database", ()),
    ("Chroma", "database", ("chromadb",)),
    ("FAISS", "database", ()),
    ("Apache Kafka", "message queue", ("kafka", "redpanda")),
    ("RabbitMQ", "message queue", ("rabbit mq", "amqp")),
    ("Amazon SQS", "message queue", ("sqs",)),
    (
        "Message queues",
        "message queue",
        (
            "message queue",
            "message broker",
            "message brokers",
            "job queue",
            "job queues",
            "task queue",
            "task queues",
        ),
    ),
    (
        "Background jobs",
        "message queue",
        (
            "background job",
            "background workers",
            "background worker",
            "async jobs",
            "asynchronous jobs",
        ),
    ),
    ("Amazon Web Services", "cloud platform", ("aws", "amazon web services aws")),
    ("Google Cloud Platform", "cloud platform", ("gcp", "google cloud")),
    ("Microsoft Azure", "cloud platform", ("azure",)),
    ("AWS Lambda", "cloud platform", ("lambda functions",)),
    ("Amazon S3", "cloud platform", ("s3",)),
    ("Amazon EC2", "cloud platform", ("ec2",)),
    (
        "Docker",
        "infrastructure",
        (
            "containerization",
            "containerisation",
            "dockerfile",
            "docker-compose",
            "docker compose",
            "docker containers",
        ),
    ),
    ("Kubernetes", "infrastructure", ("k8s", "kubectl", "=Helm", "=EKS", "=GKE", "=AKS")),
    ("Terraform", "infrastructure", ("infrastructure as code", "iac")),
    ("Ansible", "infrastructure", ()),
    ("Linux", "operating system", ("unix",)),
    ("Nginx", "infrastructure", ()),
    ("Serverless", "infrastructure", ("serverless computing",)),
    (
        "Cloud computing",
        "cloud platform",
        (
            "cloud",
            "cloud infrastructure",
            "cloud platforms",
            "cloud services",
            "cloud technologies",
        ),
    ),
    (
        "CI/CD",
        "devops practice",
        (
            "continuous integration",
            "continuous delivery",
            "continuous deployment",
            "ci cd",
            "cicd",
            "ci/cd pipelines",
            "=CI",
        ),
    ),
    ("GitHub Actions", "devops tool", ()),
    ("GitLab CI", "devops tool", ("gitlab ci/cd",)),
    ("Jenkins", "devops tool", ()),
    ("Git", "version control", ("github", "gitlab", "bitbucket")),
    ("DevOps", "devops practice", ()),
    (
        "Observability",
        "devops practice",
        ("application monitoring", "distributed tracing", "structured logging", "telemetry"),
    ),
    ("Prometheus", "devops tool", ()),
    ("Grafana", "devops tool", ()),
    ("OpenTelemetry", "devops tool", ("otel",)),
    ("Datadog", "devops tool", ()),
    ("Sentry", "devops tool", ()),
    (
        "Large language models",
        "ai",
        ("llm", "llms", "large language model", "=GPT", "gpt-4", "gpt-4o", "chatgpt"),
    ),
    (
        "Retrieval-augmented generation",
        "ai",
        ("rag", "retrieval augmented generation", "retrieval-augmented"),
    ),
    ("Prompt engineering", "ai", ("prompt design", "prompt templates", "prompt engineer")),
    ("LLM chaining", "ai", ("prompt chaining", "llm chain", "llm chains", "chained prompts")),
    ("LangChain", "ai", ()),
    ("LlamaIndex", "ai", ("llama index",)),
    ("OpenAI API", "ai", ("openai",)),
    ("Anthropic API", "ai", ("anthropic",)),
    ("Hugging Face", "ai", ("huggingface",)),
    (
        "Embeddings",
        "ai",
        ("embedding", "text embeddings", "vector embeddings", "sentence embeddings"),
    ),
    ("Machine learning", "ai", ("=ML", "machine-learning")),
    ("Deep learning", "ai", ("neural networks", "neural network")),
    ("Natural language processing", "ai", ("=NLP",)),
    ("Computer vision", "ai", ()),
    ("Artificial intelligence", "ai", ("=AI", "ai/ml", "genai", "generative ai")),
    ("Fine-tuning", "ai", ("fine tuning", "finetuning", "lora")),
    ("Model evaluation", "ai", ("llm evaluation", "evals", "model quality")),
    ("Semantic search", "ai", ("vector search", "similarity search")),
    ("MLOps", "ai", ()),
    ("Unit testing", "engineering practice", ("unit tests", "unit test")),
    ("Integration testing", "engineering practice", ("integration tests", "integration test")),
    (
        "End-to-end testing",
        "engineering practice",
        ("e2e tests", "e2e testing", "end-to-end tests"),
    ),
    ("Test-driven development", "engineering practice", ("tdd",)),
    ("Automated testing", "engineering practice", ("test automation", "automated tests")),
    ("Code review", "engineering practice", ("code reviews", "pull request reviews")),
    ("Agile", "engineering practice", ("scrum", "kanban")),
    ("API design", "engineering practice", ("api development", "designing apis")),
    ("Data modeling", "engineering practice", ("data modelling", "schema design")),
    ("Caching", "engineering practice", ("cache", "caches")),
    ("Rate limiting", "engineering practice", ("rate limits", "rate limiter", "throttling")),
    (
        "Retries with backoff",
        "engineering practice",
        ("exponential backoff", "retry", "retries", "backoff"),
    ),
    ("Idempotency", "engineering practice", ("idempotent",)),
    ("Authentication", "security", ("oauth", "oauth2", "=JWT", "=SSO")),
    ("Security", "security", ("application security", "owasp", "cybersecurity", "cyber security")),
    (
        "Performance optimization",
        "engineering practice",
        ("performance tuning", "query optimization"),
    ),
    ("ETL", "data engineering", ("data pipelines", "data pipeline", "elt")),
    ("Apache Spark", "data engineering", ("=Spark", "pyspark")),
    ("Apache Airflow", "data engineering", ("=Airflow",)),
    ("Data analysis", "data", ("data analytics",)),
    (
        "Communication",
        "soft skill",
        ("communication skills", "written communication", "verbal communication"),
    ),
    (
        "Teamwork",
        "soft skill",
        ("team player", "collaboration", "work in teams", "cross-functional"),
    ),
    ("Mentoring", "soft skill", ("mentorship", "coaching")),
    ("Leadership", "soft skill", ("team lead", "tech lead", "technical leadership")),
    ("Problem solving", "soft skill", ("problem-solving", "solve problems", "troubleshooting")),
    ("Project management", "soft skill", ("project planning",)),
    ("Stakeholder management", "soft skill", ("stakeholders", "stakeholder communication")),
    ("Technical writing", "soft skill", ("documentation writing", "technical documentation")),
    ("English", "language", ()),
    ("HTML", "web technology", ("html5", "=HTML")),
    ("CSS", "web technology", ("css3", "=CSS")),
    ("JSON", "data format", ("=JSON",)),
    ("YAML", "data format", ("=YAML",)),
    ("Heroku", "cloud platform", ()),
    ("Redux", "frontend framework", ()),
    ("OpenCV", "machine learning library", ()),
    ("PostGIS", "database", ()),
    (
        "Software development lifecycle",
        "engineering practice",
        ("sdlc", "software development life cycle", "systems development life-cycle"),
    ),
    ("Software development", "engineering practice", ("software engineering",)),
    ("Pair programming", "engineering practice", ()),
    ("Quality assurance", "engineering practice", ("=QA", "quality assurance procedures")),
    ("E-commerce", "domain", ("ecommerce", "e commerce")),
    ("Open source", "engineering practice", ("open-source", "open source software")),
    (
        "Concurrent programming",
        "engineering practice",
        ("multithreading", "multiprocessing", "concurrency"),
    ),
    ("Azure Cosmos DB", "database", ("cosmosdb", "cosmos db")),
    ("Azure Key Vault", "cloud platform", ("keyvault", "key vault")),
    ("Azure Service Bus", "message queue", ("servicebus", "service bus")),
    ("Azure App Service", "cloud platform", ("appservices", "app services", "appservice")),
    ("API management", "engineering practice", ()),
    ("Computer graphics", "domain", ()),
    ("Financial technology", "domain", ("fintech", "wealthtech")),
)

# A specific skill shows the broader one it belongs to: a CV with "Kafka" meets a job asking
# for "message queues". Only the candidate's side is expanded, never the requirement's.
_SQL_DBS = ("Relational databases", "SQL")
_LLM = ("Large language models",)
BROADER: dict[str, tuple[str, ...]] = {
    "PostgreSQL": _SQL_DBS,
    "MySQL": _SQL_DBS,
    "SQLite": _SQL_DBS,
    "Microsoft SQL Server": _SQL_DBS,
    "Oracle Database": _SQL_DBS,
    "MongoDB": ("NoSQL",),
    "Redis": ("NoSQL", "Caching"),
    "Cassandra": ("NoSQL",),
    "DynamoDB": ("NoSQL",),
    "Elasticsearch": ("NoSQL",),
    "pgvector": ("Vector database", "PostgreSQL", "Relational databases"),
    "Pinecone": ("Vector database",),
    "Qdrant": ("Vector database",),
    "Weaviate": ("Vector database",),
    "Chroma": ("Vector database",),
    "FAISS": ("Vector database",),
    "Apache Kafka": ("Message queues", "Event-driven architecture"),
    "RabbitMQ": ("Message queues",),
    "Amazon SQS": ("Message queues", "Amazon Web Services"),
    "Celery": ("Message queues", "Background jobs", "Python"),
    "Amazon Web Services": ("Cloud computing",),
    "Google Cloud Platform": ("Cloud computing",),
    "Microsoft Azure": ("Cloud computing",),
    "AWS Lambda": ("Amazon Web Services", "Serverless", "Cloud computing"),
    "Amazon S3": ("Amazon Web Services", "Cloud computing"),
    "Amazon EC2": ("Amazon Web Services", "Cloud computing"),
    "Kubernetes": ("Docker", "Cloud computing"),
    "GitHub Actions": ("CI/CD", "Git"),
    "GitLab CI": ("CI/CD", "Git"),
    "Jenkins": ("CI/CD",),
    "Prometheus": ("Observability",),
    "Grafana": ("Observability",),
    "OpenTelemetry": ("Observability",),
    "Datadog": ("Observability",),
    "Sentry": ("Observability",),
    "FastAPI": ("Python", "REST", "API design"),
    "Django": ("Python",),
    "Flask": ("Python",),
    "SQLAlchemy": ("Python", "SQL"),
    "Pydantic": ("Python",),
    "asyncio": ("Python",),
    "pandas": ("Python", "Data analysis"),
    "NumPy": ("Python",),
    "Node.js": ("JavaScript",),
    "Express.js": ("JavaScript", "Node.js"),
    "React": ("JavaScript",),
    "Next.js": ("JavaScript", "React"),
    "Vue.js": ("JavaScript",),
    "Angular": ("JavaScript", "TypeScript"),
    "TypeScript": ("JavaScript",),
    "Spring Boot": ("Java",),
    "Kotlin": ("Java",),
    "Ruby on Rails": ("Ruby",),
    "ASP.NET": (".NET",),
    "C#": (".NET",),
    "pytest": ("Python", "Automated testing", "Unit testing"),
    "Unit testing": ("Automated testing",),
    "Integration testing": ("Automated testing",),
    "End-to-end testing": ("Automated testing",),
    "Test-driven development": ("Automated testing", "Unit testing"),
    "LangChain": (*_LLM, "LLM chaining"),
    "LlamaIndex": (*_LLM, "Retrieval-augmented generation"),
    "OpenAI API": _LLM,
    "Anthropic API": _LLM,
    "Retrieval-augmented generation": (*_LLM, "Semantic search"),
    "Prompt engineering": _LLM,
    "LLM chaining": (*_LLM, "Prompt engineering"),
    "Fine-tuning": ("Machine learning",),
    "Deep learning": ("Machine learning",),
    "PyTorch": ("Machine learning", "Deep learning", "Python"),
    "TensorFlow": ("Machine learning", "Deep learning"),
    "scikit-learn": ("Machine learning", "Python"),
    "Large language models": ("Natural language processing", "Artificial intelligence"),
    "Machine learning": ("Artificial intelligence",),
    "Natural language processing": ("Artificial intelligence",),
    "Apache Spark": ("ETL",),
    "Apache Airflow": ("ETL",),
    "Microservices": ("Distributed systems",),
    "REST": ("API design",),
    "GraphQL": ("API design",),
    "gRPC": ("API design",),
    "OpenAPI": ("API design",),
    "Terraform": ("Cloud computing",),
    "Azure Cosmos DB": ("Microsoft Azure", "NoSQL", "Cloud computing"),
    "Azure Key Vault": ("Microsoft Azure", "Cloud computing"),
    "Azure Service Bus": ("Microsoft Azure", "Message queues", "Cloud computing"),
    "Azure App Service": ("Microsoft Azure", "Cloud computing"),
    "Heroku": ("Cloud computing",),
    "Redux": ("JavaScript", "React"),
    "PostGIS": ("PostgreSQL", "Relational databases"),
}

# Vendors whose name O*NET puts in front of the product ("Apache Kafka", "Atlassian JIRA").
VENDORS = (
    "Adobe",
    "Amazon",
    "Amazon Web Services AWS",
    "Apache",
    "Apple",
    "Atlassian",
    "Autodesk",
    "Cisco",
    "Dassault Systemes",
    "Eclipse",
    "ESRI",
    "Google",
    "IBM",
    "Intuit",
    "Microsoft",
    "Oracle",
    "Red Hat",
    "SAP",
    "Salesforce",
    "VMware",
    "Bentley",
    "Corel",
    "Facebook",
    "Meta",
)

# Ordinary words O*NET uses as product names once " software" is cut ("Email software").
_EXTRA_COMMON = frozenset(
    [
        "email",
        "mail",
        "internet",
        "web",
        "online",
        "digital",
        "computer",
        "desktop",
        "mobile",
        "cloud",
        "data",
        "database",
        "text",
        "word",
        "spreadsheet",
        "calendar",
        "chat",
        "video",
        "audio",
        "map",
        "maps",
        "office",
        "notes",
        "paint",
        "project",
        "access",
        "outlook",
        "teams",
        "publisher",
        "visio",
        "works",
    ]
)

_SPACE = re.compile(r"\s+")
_TRAILING_ACRONYM = re.compile(r"^(?P<name>.+?)\s+\(?(?P<acr>[A-Z][A-Z0-9]{1,7})\)?$")
_PAREN = re.compile(r"^(?P<name>[^()]+?)\s*\((?P<qual>[^()]+)\)$")
_GENERIC_TAIL = re.compile(r"\s+(software|software products|application software)$", re.IGNORECASE)


@dataclass
class Entry:
    name: str
    category: str
    source: str
    hot: bool = False
    aliases: set[str] = field(default_factory=set)


def _key(alias: str) -> str:
    return _SPACE.sub(" ", alias.strip().lower())


def _slug(name: str) -> str:
    slug = name.lower().replace("c++", "cpp").replace("c#", "csharp").replace(".net", "dotnet")
    return re.sub(r"[^a-z0-9]+", "-", slug).strip("-") or "x"


def _common_words(esco_labels: list[str], prose: str) -> set[str]:
    """Words of ordinary English: the lower-case vocabulary of ESCO labels and O*NET prose.

    Only words written in lower case count, since product names ("Python", "Hadoop") are
    capitalised wherever they appear.
    """
    words: set[str] = set(_EXTRA_COMMON)
    for label in esco_labels:
        words.update(w for w in re.findall(r"[A-Za-z]+", label) if w.islower())
    words.update(w for w in re.findall(r"[A-Za-z]+", prose) if w.islower())
    return words


def _onet_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _initials_match(base: str, acronym: str) -> bool:
    """Whether ``acronym`` abbreviates ``base`` ("Simple Storage Service" / "S3" -> yes)."""
    initials = "".join(word[0] for word in base.split() if word[0].isalpha()).upper()
    letters = [ch for ch in acronym.upper() if ch.isalpha()]
    pos = 0
    for letter in letters:
        pos = initials.find(letter, pos)
        if pos < 0:
            return False
        pos += 1
    return len(letters) >= 1


def _distinctive(words: list[str], common: set[str]) -> bool:
    return any(w.lower() not in common or any(ch.isdigit() for ch in w) for w in words)


def _description(name: str, common: set[str]) -> bool:
    """ "Email", "Word processing": a kind of tool, not a product ("Microsoft Word" is one)."""
    words = re.findall(r"[A-Za-z0-9+#.]+", name)
    if _distinctive(words, common):
        return False
    return len(words) == 1 or any(word[:1].islower() for word in words[1:])


def _onet_aliases(example: str, common: set[str]) -> tuple[str, set[str], set[str]]:
    """Canonical name, its own aliases, and derived aliases (acronyms, vendor-less names).

    Derived aliases never merge entries: "MTI Systems Costimator JS" must not become JavaScript.
    """
    name = _GENERIC_TAIL.sub("", example.strip())
    own = {name}
    derived: set[str] = set()
    match = _TRAILING_ACRONYM.match(name)
    if match and len(match.group("name").split()) >= 2:
        base, acronym = match.group("name"), match.group("acr")
        if _initials_match(base, acronym):
            own.add(base)
            if acronym.lower() not in common and len(acronym) >= 2:
                derived.add("=" + acronym if len(acronym) <= 3 else acronym)
            name = f"{base} ({acronym})"
    for candidate in sorted(own):
        for vendor in sorted(VENDORS, key=len, reverse=True):
            if not candidate.startswith(vendor + " "):
                continue
            rest = candidate[len(vendor) + 1 :].strip()
            words = rest.split()
            # "Apache Kafka" -> "Kafka"; never "Microsoft Word" -> "Word", "Oracle Database"
            # -> "Database": an ordinary word is not a product even when capitalised
            if (
                len(rest) >= 2
                and words
                and _distinctive(words, common)
                and (rest[0].isupper() or rest[0].isdigit())
            ):
                derived.add(rest)
            break
    return name, own, derived


def _titlecase(word: str) -> bool:
    """ "Cyclone", "FEAR": capitalised ordinary-looking words, only trusted as written."""
    return word.isalpha() and word[:1].isupper() and (word[1:].islower() or word.isupper())


def _forms(entry: Entry, common: set[str]) -> list[str]:
    """Every surface form the matcher should know; "=" marks a case-sensitive one."""
    sensitive = {a[1:] for a in entry.aliases if a.startswith("=")}
    forms: set[str] = {"=" + a for a in sensitive}
    for alias in entry.aliases | {entry.name}:
        if alias.startswith("=") or alias in sensitive:
            continue
        single = len(alias.split()) == 1
        if (
            single and entry.source == "onet" and (alias.lower() in common or _titlecase(alias))
        ) or (single and len(alias) <= 2):
            forms.add("=" + alias)
        else:
            forms.add(alias)
    # one form per lower-cased key: the case-insensitive one wins over the sensitive one
    by_key: dict[str, str] = {}
    for form in sorted(forms, key=lambda f: (f.startswith("="), f)):
        by_key.setdefault(
            _key(form.lstrip("=")) + ("|" + form if form.startswith("=") else ""), form
        )
    ci = {_key(f) for f in by_key.values() if not f.startswith("=")}
    return sorted(
        (f for f in by_key.values() if not (f.startswith("=") and _key(f[1:]) in ci)),
        key=lambda f: (_key(f.lstrip("=")), f),
    )


def build(
    onet_path: Path, esco_path: Path, occupations_path: Path | None = None
) -> dict[str, object]:
    esco_labels = [
        line.strip() for line in esco_path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    prose = occupations_path.read_text(encoding="utf-8") if occupations_path else ""
    common = _common_words(esco_labels, prose)
    entries: dict[str, Entry] = {}
    alias_owner: dict[str, str] = {}

    def add(entry: Entry, derived: set[str] | None = None) -> str:
        slug = _slug(entry.name)
        keys = {_key(a.lstrip("=")) for a in entry.aliases | {entry.name}}
        owner = next((alias_owner[k] for k in sorted(keys) if k in alias_owner), None)
        if owner is None:
            base, n = slug, 2
            while slug in entries:
                slug, n = f"{base}-{n}", n + 1
            entries[slug] = entry
            owner = slug
        else:
            target = entries[owner]
            target.hot = target.hot or entry.hot
            target.aliases |= {a for a in entry.aliases if _key(a.lstrip("=")) not in alias_owner}
        for k in keys:
            alias_owner.setdefault(k, owner)
        for alias in sorted(derived or ()):
            k = _key(alias.lstrip("="))
            if k not in alias_owner:
                entries[owner].aliases.add(alias)
                alias_owner[k] = owner
        return owner

    for name, category, aliases in CURATED:
        add(Entry(name, category, "curated", hot=True, aliases=set(aliases) | {name}))

    rows = _onet_rows(onet_path)
    categories: dict[str, Counter[str]] = defaultdict(Counter)
    hot: dict[str, bool] = defaultdict(bool)
    for row in rows:
        example = row["Example"].strip()
        categories[example][row["Commodity Title"].strip()] += 1
        hot[example] = hot[example] or row["Hot Technology"].strip() == "Y"
    for example in sorted(categories):
        name, own, derived = _onet_aliases(example, common)
        if len(name) < 2 or _description(name, common):
            continue
        category = sorted(categories[example].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        add(Entry(name, category, "onet", hot=hot[example], aliases=own), derived)

    for label in sorted(set(esco_labels)):
        words = label.split()
        if len(words) > 3 or len(label) < 2:
            continue
        match = _PAREN.match(label)
        if match:
            name = match.group("name").strip()
            labels = {label, name if len(name) > 2 or name.isupper() else "=" + name}
            category = f"ESCO: {match.group('qual').strip()}"
        else:
            name, labels, category = label, {label}, "ESCO skill"
        add(Entry(name, category, "esco", aliases=labels))

    for name, broader in BROADER.items():
        for slug in (_slug(name), *(_slug(b) for b in broader)):
            if slug not in entries:
                raise SystemExit(f"BROADER names an unknown skill: {slug}")
    category_names = sorted({entry.category for entry in entries.values()})
    category_index = {name: i for i, name in enumerate(category_names)}
    skills: list[list[object]] = []
    for slug in sorted(entries):
        entry = entries[slug]
        forms = _forms(entry, common)
        extra = [f for f in forms if f != entry.name]
        record: list[object] = [
            entry.name,
            category_index[entry.category],
            entry.source[0] + ("h" if entry.hot else ""),
        ]
        if extra:
            record.append(extra)
        if slug != _slug(entry.name):
            record.append(slug)
        skills.append(record)
    return {
        "version": LEXICON_VERSION,
        "sources": {
            "onet": "O*NET 29.2 Database, Technology Skills (USDOL/ETA), CC BY 4.0",
            "esco": "ESCO v1.1.0 skill labels, (c) European Union",
            "curated": "hand-curated aliases, this project",
        },
        "format": {
            "skill": "[name, category index, source (c|o|e) + h if hot, [forms], id]",
            "forms": "extra surface forms; '=' marks a case-sensitive form; the name itself is "
            "a case-insensitive form unless '=name' is listed; id defaults to slug(name)",
            "broader": "id -> ids of broader skills a mention also shows (Kafka -> message queues)",
        },
        "categories": category_names,
        "broader": {
            _slug(name): sorted(_slug(b) for b in broader)
            for name, broader in sorted(BROADER.items())
        },
        "skills": skills,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onet", type=Path, help="O*NET technology_skills.txt")
    parser.add_argument("esco", type=Path, help="ESCO skills_en_label.txt")
    parser.add_argument("output", type=Path, help="where to write skills_lexicon.json")
    parser.add_argument(
        "--occupations",
        type=Path,
        help="O*NET occupation_data.txt: its prose tells ordinary words from product names",
    )
    args = parser.parse_args(argv)
    lexicon = build(args.onet, args.esco, args.occupations)
    text = json.dumps(lexicon, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    skills = lexicon["skills"]
    assert isinstance(skills, list)
    print(f"{len(skills)} skills, {len(text) / 1024:.0f} KiB -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
