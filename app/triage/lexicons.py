"""Word lists behind the feedback, output and expected-answer signals.

Kept apart from the signal logic so they are easy to review. They are generic phrasing of how
reviewers describe failures (English, plus common cues in seven other languages); nothing here
is keyed to one application or data set.
Patterns are matched case-insensitively on whitespace-normalised text.
"""

from __future__ import annotations

import re

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"


def _compile(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{part})" for part in parts), re.IGNORECASE)


FEEDBACK: dict[str, re.Pattern[str]] = {
    "stale_knowledge": _compile(
        r"out[- ]?of[- ]?date|outdated|oudated|outdate|no longer|not any ?more|any ?more\b",
        r"\b(?:has|have|had|was|were|got|been)\s+(?:been\s+)?(?:changed|updated|raised|lowered|"
        r"increased|decreased|renamed|replaced|moved|retired|discontinued|upgraded|reduced)",
        r"\bchanged\b|\bchange[ds]? (?:in|on|last|this|since)|superseded|deprecated|removed in",
        r"obsolete|\bstale\b|\blegacy\b|\beol\b|end[- ]of[- ]life|\bretired\b|discontinued",
        r"\bold (?:price|prices|rate|rates|version|pricing|number|policy|value|info|information|"
        r"data|"
        r"figure|one|api|address|name|fee|fees|limit|rule|rules|law|schedule|model|plan|terms|"
        r"spec)",
        r"last year'?s|previous (?:version|rate|price|year|policy)|used to (?:be|cost)|was true",
        r"\bnew (?:price|pricing|rate|version|policy|law|rule|limit|ceo|head|manager|release|"
        r"schedule|fee|plan|model|regulation|address)",
        r"since (?:the )?(?:\d{4}|"
        + _MONTH
        + r"|last|v?\d+\.\d+)|\bas of\b|\bbefore the (?:change|update)",
        r"price (?:change|increase|rise|hike)|went up|\brenamed\b|\breplaced by\b|moved to\b",
        r"\bnow (?:costs?|is|are|says|uses|requires|runs|led|run)\b|\bthese days\b|"
        r"\bcurrent(?:ly)? (?:is|price|rate|version)",
        r"year(?:s)? ago|months ago|training cutoff|knowledge cutoff|cut-off date",
    ),
    "missing_knowledge": _compile(
        r"made (?:it |that |this |stuff |things )?up|\binvent|hallucinat|halucinat|\bguess",
        r"fabricat|\bmakes? (?:it |stuff |things )?up|\bfake\b|\bmade[- ]up",
        r"(?:does ?n[o']?t|did ?n[o']?t|doesnt|didnt|can ?n[o']?t|cant|couldn'?t|could not|has no|"
        r"had no)"
        r"\s+(?:know|have)\b",
        r"no idea|no clue|not public|not publicly|\binternal\b|proprietary|\bprivate\b|"
        r"confidential",
        r"\bour (?:own|data|catalogue|catalog|policy|policies|product|products|price list|sop|sops|"
        r"rules|terms|contract|contracts|system|systems|records|database|docs|internal|menu|"
        r"inventory|stock|customers?|clients?|staff|team|rota|schedule|process|handbook|wiki)",
        r"no access|needs? (?:our|access|to look up|to query|a lookup|lookup|the (?:lookup|"
        r"database|"
        r"records|data|api|catalog|catalogue|inventory))",
        r"never (?:seen|saw|trained|learned)|not in (?:its|the) training|wasn'?t trained|generic",
        r"\bspecific to us\b|company[- ]specific|domain[- ]specific|product[- ]specific|"
        r"in[- ]house",
        r"\blookup\b|\bcan'?t see\b|\bcannot see\b|\bno visibility|\bnot (?:been )?announced|"
        r"\bunannounced|\bleaked\b|\bnot (?:yet )?released|\bisn'?t a real|\bnot a real|"
        r"\bdoesn'?t exist",
        r"\bunknown to\b|\blacks? (?:the |our )?(?:info|knowledge|data)|\bmissing (?:info|"
        r"knowledge|facts?)",
    ),
    "retrieval_gap": _compile(
        r"retriever|retrieval|(?:not|never|wasn'?t|weren'?t|didn'?t|did not) (?:get )?retriev|"
        r"retrieved (?:a |an |the )?(?:wrong|different|other|old|outdated|unrelated|irrelevant)|"
        r"\bsearch (?:returned|results?|didn'?t|did not|found|missed|ranked)|\bsearch\b",
        r"wrong (?:doc|docs|document|documents|page|pages|chunk|chunks|article|file|passage|"
        r"passages|section|source|version of the doc|kb|record|manual|faq|policy doc)",
        r"(?:doc|document|page|chunk|article|section|passage|faq|runbook|manual|record)s?"
        r"(?: was| were| is| are)?\s+(?:missing|not (?:indexed|retrieved|returned|found|included|"
        r"there))",
        r"not in (?:the )?(?:context|ctx|index|docs|kb|knowledge base|retrieved|results|prompt)",
        r"(?:context|ctx|retrieved|docs?|results?) (?:was |were |is |are )?(?:for|about|"
        r"from) (?:a |an |the )?"
        r"(?:different|another|wrong|other|unrelated|older)",
        r"(?:context|ctx|docs?|kb|passages?|chunks?|results?) (?:didn'?t|did not|doesn'?t|does not|"
        r"dont|don'?t|didnt|had no|has no|lacked|lacks|never) (?:have|contain|include|mention|"
        r"cover|"
        r"hold|the)",
        r"\bindex(?:ed|ing)?\b|\branked\b|\branking\b|rerank|top[- ]?k\b|\bembedding|\bchunk",
        r"irrelevant (?:doc|docs|context|passages|results|chunks)|(?:pulled|fetched|returned|"
        r"grabbed|"
        r"picked|got) the wrong|stale index|missing from (?:the )?(?:index|kb|context|corpus)",
        r"\bcorpus\b|\bvector (?:store|db|search)|\bbm25\b|\brecall@",
    ),
    "grounding": _compile(
        r"ignor(?:ed|es|ing|e)\s+(?:the |its |our |what |that )?(?:doc|docs|document|context|ctx|"
        r"page|passage|source|article|leaflet|label|contract|notes|kb|provided|given|retrieved|"
        r"info|information|text|record|policy|listing|status|table|data|evidence|manual)",
        r"contradict|\bcontrary to\b|\bunfaithful|not grounded|ungrounded|\bhallucinat\w* despite",
        r"the (?:doc|docs|document|context|ctx|page|passage|leaflet|label|contract|listing|source|"
        r"article|kb|notes|policy|record|status page|table|manual|snippet|tool result|api result)"
        r" (?:says|said|states|stated|clearly|has|had|shows|showed|lists|listed|gives|gave|"
        r"is clear)",
        r"(?:right|was|is|it'?s|its) (?:there|right there) in|was (?:right )?in the (?:prompt|"
        r"context|"
        r"ctx|doc|docs|retrieved)|were (?:right )?in the (?:prompt|context|ctx)",
        r"had the (?:doc|docs|answer|info|context|page|right doc)|despite (?:the |having )?"
        r"(?:context|doc|source|the answer)|didn'?t (?:use|read|follow) the (?:context|doc|source|"
        r"docs)",
        r"against the (?:doc|source|context)|even though (?:the|it had)|(?:provided|supplied|given|"
        r"retrieved) (?:doc|docs|context|text|passage|page|lease|contract|data) (?:says|said|"
        r"shows)",
        r"in the (?:supplied|provided|given|retrieved|attached) (?:doc|docs|context|text|lease|"
        r"contract|page|passage|data)|not what the (?:doc|source|context)|\bgrounding\b",
        r"(?:answer|it|model|bot) (?:is|was) in the (?:context|doc|docs)|from the context",
        r"\bignor(?:ed|es|ing)\b|\bopposite\b|\bretrieved (?:but|and|fine|correctly)|"
        r"(?:was|were) (?:correctly )?retrieved\b|\bused the old (?:number|value|price) anyway",
        r"\b(?:doc|docs|document|context|ctx|page|passage|leaflet|label|contract|listing|source|"
        r"notice|policy|record|profile|file|sheet|schedule|spec|table|manual|snippet|result|"
        r"notes|faq|plan details) (?:says|said|states|stated|clearly says|shows|showed|lists|"
        r"listed|has it|had it)\b",
        r"\b(?:it|bot|model) (?:had|was given|got) (?:the|it)|\bpassed in\b|\bin (?:the )?"
        r"(?:context|ctx|prompt)\b.{0,30}\b(?:still|anyway|but)",
    ),
    "format": _compile(
        r"\bjson\b|\byaml\b|\bcsv\b|\bxml\b|\bschema\b|\bformat|\bparse|\bparser|\binvalid\b",
        r"\btemplate\b|\bbullet|\bmarkdown\b|\btable\b|\bsections?\b|\bheadings?\b|\bstructure",
        r"\bfields?\b|\bkeys?\b|snake_?case|camel_?case|(?:character|char|word|line) (?:limit|"
        r"count|max)",
        r"\bmax(?:imum)? \d+|\btruncat|\btoo long for|\bexceed|\bover the (?:\d+|limit)",
        r"wrong language|\bin (?:english|french|german|spanish|italian|portuguese|dutch|polish)\b",
        r"\breplied in\b|\banswered in\b|\btranslat|\blocale\b|\bdate format|\biso ?8601|\bregex",
        r"\bvalidator|\btrailing comma|\bextra (?:text|prose|words|commentary|explanation)",
        r"\bpreamble\b|\bcopy button|\bone line\b|\bnumbered list|\bplain text\b|\bcode block",
        r"\bfences?\b|\bunits?\b|\bcurrency format|\bdecimal|\bcolumns?\b|\bheader row",
        r"\b\d+\s*(?:chars?|characters|words)\b|\blimit\b|\bsms\b|\bsegments?\b|\bsplit into",
        r"\bconventional commits?|\bread(?:s)? (?:it )?(?:out )?loud|\bspoken\b|\bpipes\b",
        r"\bwidget|\boverflow|\bbadge\b|\bui\b|\bscreen\b|\bpush notif|\bnotification|\btweet\b|"
        r"\b\d+ lines?\b|\bas-is\b|\bpasted\b|\binsert(?:ed)? into|\bdisplay|\brender|"
        r"\bhashtags?\b|\bsubject line|\bcut off\b|\bcapitali[sz]|\blowercase|\buppercase",
    ),
    "style": _compile(
        r"\bcourteous|\brespectful|\bdefensive\b|\bdismissive|\baccusatory|\bcombative|"
        r"\bempathetic|\bcondescending|\bsnippy|\bsassy|\bsnarky|\btone ?deaf|\bwarm(?:er)?\b",
        r"\bthreaten|\baggressive\b|\bharsh\b|\bscary\b|\balarming\b|\bstyle guide|\bregister\b",
        r"\bformality\b|\bformal\b|\bfor (?:my|their|his|her|our) (?:kid|kids|child|children|son|"
        r"daughter|students|class|grandma|grandpa|mum|mom|dad)|\bgraders?\b|\blayperson|"
        r"\bnon-?technical|\bover (?:their|his|her) head|\btoo advanced|\btoo academic",
        r"\btone\b|\brude\b|\bcurt\b|\bblunt\b|\bcold\b|\brobot|\bstiff\b|\b(?:too |over ?)formal",
        r"\binformal\b|\bcasual\b|unprofessional|\bverbose\b|\bwordy\b|\btoo long\b|long[- ]winded",
        r"\brambl|\bessay\b|\bwaffl|\btoo short\b|\bterse\b|\bjargon|\btoo technical|\btoo complex",
        r"reading level|\bkids\b|\bchildren\b|year[- ]olds?|plain (?:english|language)|"
        r"\bcondescend",
        r"patroni|\bsnark|\bsarcas|\bunfriendly|\bwarmth\b|\bempath|\bapologi[sz]|\bemoji",
        r"exclamation|\bvoice\b|\bpersona\b|\bbreaks? character|\bin character|\bbrand\b",
        r"\bcheesy\b|\bsalesy\b|\bpushy\b|\bpreachy\b|\blectur|tone[- ]deaf|\bchatty\b|\bflowery\b",
        r"\bsounds like\b|\bcringe|\bawkward\b|\bdry\b|\bboring\b|\bsycophan|\bover the top",
        r"\btoo (?:much|many) (?:words|detail|text|fluff)|\bfluff|\bhedg|\bdisclaimer",
        r"\bcomplicated\b|\bdumb(?:ed)? down|\bsimpler\b|\bshorter\b|\bconcise|\bpolite|\bimpolite",
    ),
    "procedure": _compile(
        r"\bconfirm\b|\bbypass|\birreversible|\bpreview\b|\b(?:route|routed|go|goes) to "
        r"(?:a |the )?(?:\w+ )?(?:review|team|desk|human|agent|nurse|doctor|finance|legal)",
        r"\bno (?:\w+ )?(?:check|review|appraisal|verification|approval|consent)\b|"
        r"\bviolat|\bprotected (?:class|characteristic|status)|\bdiscriminat|\bsteering\b|"
        r"\bfair (?:housing|lending)|\bbias(?:ed)?\b|\bcan'?t approve|\bcannot approve|"
        r"\bwithout (?:a |any )?(?:check|review|approval|confirmation|consent|asking|verif)",
        r"escalat|\bhand ?off|\bhandover|\bhand (?:it )?over|\bhuman\b|\blive agent|\btransfer",
        r"should(?:'ve| have)? (?:asked|checked|verified|confirmed|referred|escalated|flagged|"
        r"routed|stopped|refused|declined|collected|logged|followed|warned)",
        r"(?:didn'?t|did not|never|without) (?:ask|asking|check|checking|verify|verifying|confirm|"
        r"confirming|escalat|refer|follow|following|log|logging)",
        r"\bclarif|\bconfirmation|\bverif|\bauthenticat|\bidentity\b|\bid check|\bconsent",
        r"\bskipp|\bsteps?\b|\bprocedure|\bprotocol|\bsop\b|\bpolicy (?:says|requires|is)",
        r"\bmandatory\b|not allowed|isn'?t allowed|not supposed|not permitted",
        r"\bbefore (?:doing|giving|booking|refunding|issuing|sharing|discussing|answering|"
        r"processing|cancel|approving|sending|any)",
        r"\brefer(?:ral|red)? (?:to|it)|\bsafeguard|\bcrisis|\bapproval|\bsign[- ]off|\bworkflow",
        r"wrong (?:order|convention|method|approach|sequence|process)|\bconvention\b|\bchecklist",
        r"\bcompliance\b|\bregulat\w* (?:requires|says)|\bduty of care|\bred flag|\btriage\b",
        r"\bunsafe\b|\brisk\b|\bgave (?:legal|medical|financial) advice|\bdiagnos",
    ),
    "preference": _compile(
        r"\b(?:users|people|customers|readers|raters|reviewers|testers|agents|students|patients)"
        r" (?:picked|chose|choose|went with|clicked|ranked|rated|favou?r|responded better)",
        r"\bhigher (?:csat|rating|ratings|satisfaction|engagement|open rate|ctr|conversion|score)|"
        r"\b(?:more|fewer) (?:clicks|replies|conversions|complaints|sign-?ups|bookings)\b",
        r"\b(?:version|option|variant|candidate|arm) [b2]\b|\bthe (?:alternative|rewrite|other "
        r"(?:version|draft|wording|phrasing))\b|\bthumbs up (?:on|for) the other|\branked\b",
        r"\bprefer|\bpreference|\bwon\b|\bwinner|\bwin ?rate|\bvotes?\b|\bvoted|\braters?\b",
        r"\brated (?:it |the other |b |a )?(?:higher|better|lower|worse)|\ba/b\b|\bab test|"
        r"\bvariant",
        r"\b(?:option|response|answer|version|candidate) (?:[a-d1-4]|one|two|b)\b",
        r"\b[ab12]\s*(?:>|≻|>>|beats|over)\s*[ab12]\b|side[- ]by[- ]side|\bpairwise|\bchosen\b",
        r"\brejected\b|\bboth (?:are |were |answers |responses )?(?:fine|ok|okay|correct|"
        r"acceptable|good|right|accurate|valid)",
        r"\bnot wrong\b|isn'?t wrong|wasn'?t wrong|nothing (?:factually )?wrong|technically "
        r"(?:correct|right|fine)|(?:acceptable|fine|correct|ok|okay|accurate),? but\b",
        r"\bliked\b|\bclicks?\b|\bctr\b|\bconversion|\bengagement|users (?:like|liked|prefer)",
        r"\bother (?:one|answer|version|response) (?:is|was) better|\bbetter than\b|"
        r"\bless preferred",
        r"\bpeople (?:like|liked|prefer|chose)|\bmost (?:people|users|raters)|\bfavou?red",
    ),
}

# The same cues in the other languages reviewers write feedback in (Spanish, Portuguese, French,
# German, Italian, Dutch, Polish, Japanese). General phrasing, appended to `FEEDBACK`.
_MONTH_INTL = (
    r"(?:ene|enero|jan|janeiro|janvier|januar|gennaio|januari|stycz|feb|febrero|fevereiro|"
    r"février|februar|febbraio|lut|mar|marzo|março|mars|märz|maart|marz|abr|abril|avril|"
    r"aprile|kwie|may|mayo|maio|mai|maggio|mei|maj|jun|junio|junho|juin|juni|giugno|czerw|"
    r"jul|julio|julho|juillet|juli|luglio|lip|ago|agosto|août|august|aug|sierp|sep|sept|"
    r"septiembre|setembro|septembre|september|settembre|wrze|oct|octubre|outubro|octobre|"
    r"oktober|ottobre|paź|nov|noviembre|novembro|novembre|november|listop|dic|diciembre|"
    r"dezembro|décembre|dezember|dicembre|december|grud)[a-zäéû]*"
)
FEEDBACK_INTL: dict[str, tuple[str, ...]] = {
    "stale_knowledge": (
        r"desactualizad|desatualizad|\bobsolet|obsolète|veraltet|verouderd|nieaktualn|"
        r"non (?:è )?più (?:valid|aggiornat)|niet meer|nicht mehr|n'est plus|ya no\b|"
        r"não (?:é|vale) mais|już nie|\bpérimé|\bcaducad|\bscadut",
        r"\b(?:precio|tarifa|versión|norma|regla)s? (?:antigu|viej|anterior)|"
        r"\b(?:preço|tabela|versão|regra|tarifa)s? (?:antig|velh|anterior)|"
        r"\bancien(?:ne)?s? (?:tarif|prix|barème|règle|version|adresse|grille)|"
        r"\balte[nrs]? (?:preis|tarif|version|regel|adresse|fahrplan|stand)|"
        r"\bvecchi[oae] (?:prezz|tariff|version|regol)|\boude (?:prijs|tarief|versie|regel)|"
        r"\bstar[aey] (?:cen|cennik|wersj|stawk|zasad)",
        r"ha cambiado|cambió|han cambiado|mudou|mudaram|foi alterad|a changé|ont changé|"
        r"hat sich (?:\w+ )?geändert|wurde (?:\w+ )?geändert|\bgeändert|è cambiat|sono cambiat|"
        r"is veranderd|gewijzigd|zmieni[łl]|zmienion|\breajust|\baumentó|\bsubió",
        r"\b(?:desde|depuis|seit|sinds|dal|od) (?:el |le |la |dem |de )?(?:\d{1,2}\.? )?"
        + _MONTH_INTL
        + r"|\b(?:desde|depuis|seit|sinds|dal|od) (?:el |le |dem )?\d{4}\b",
        r"古い|旧(?:料金|価格|ライン|版|規定|ルール|情報)|改定|改正|変更(?:され|済|に)|変わ(?:った|りました)|"
        r"現在は|もう(?:使え|ない|廃止)|廃止",
    ),
    "missing_knowledge": (
        r"se lo (?:ha )?inventad|se lo inventó|\binventó|\binventou|\binventé|erfunden|"
        r"ausgedacht|verzonnen|verzint|wymyśli|zmyśli|\binventat",
        r"no (?:lo )?sabe\b|não sabe\b|ne (?:le )?sait pas|n'en sait rien|ne conna[iî]t pas|"
        r"weiß (?:es |das )?nicht|kennt (?:\w+ )?nicht|non (?:lo )?sa\b|non conosce|"
        r"weet (?:het |dat )?niet|nie wie\b",
        r"\binterno|\binterna|\binterne[nrs]?\b|\binterni\b|wewnętrzn|"
        r"\bnuestr[oa]s? (?:política|catálogo|tarifa|precio|sistema|norma|regla|tabla)|"
        r"\bnoss[oa]s? (?:política|catálogo|tabela|regra|sistema|preço)|"
        r"\b(?:nos|notre) (?:règle|tarif|procédure|produit|politique|catalogue|grille|barème)|"
        r"\bunsere[rns]? (?:richtlinie|tarif|preisliste|katalog|regel|produkt)",
        r"でたらめ|捏造|存在しない|社内|知らない|架空|作り話",
    ),
    "retrieval_gap": (
        r"documento (?:equivocad|incorrect|errad|sbagliat)|mauvais document|"
        r"falsche[sn]? (?:dokument|seite|artikel|quelle|abschnitt)|verkeerde? (?:document|pagina)|"
        r"(?:zły|niewłaściwy) dokument|\bdocumento de (?:otr|outr)",
        r"\bbúsqueda|\bbusca\b|\bbuscador|\bla recherche|\bsuche\b|\bsuchergebnis|"
        r"\bricerca\b|zoekresultat|wyszukiw|no (?:se )?recuper|não (?:foi )?recuperad|"
        r"\brécupér|abgerufen|\bopgehaald|\brecuperat",
        r"no (?:estaba|está) en el contexto|não (?:estava|está) no contexto|"
        r"pas dans le contexte|nicht im kontext|non (?:era|è) nel contesto|niet in de context",
        r"検索|取れていない|取得できていない|間違った(?:文書|資料|ドキュメント)|別の(?:文書|資料|ページ)",
    ),
    "grounding": (
        r"\bignoró|\bignora\b|\bignorou|\bignoré|\bignoriert|\bignorat|\bnegeert|genegeerd|"
        r"zignorow",
        r"contradice|contradiz|contredit|widerspricht|contraddice|spreekt .{0,20}tegen|sprzeczn",
        r"\b(?:el|o|le|la|der|die|das|il|het|de) (?:documento|documento|document|dokument|"
        r"contexto|contexte|kontext|contesto|context|contrato|contrat|vertrag|lettre|carta|"
        r"brief|ficha|fiche) (?:dice|diz|dit|sagt|indica|indique|zegt|mówi|says)|"
        r"steht (?:doch |klar |eindeutig )?(?:im|in der|in dem)|\blaut (?:dokument|vertrag|"
        r"kontext|unterlagen)|está no contexto|dit pourtant|dice chiaramente",
        r"無視|矛盾|書いてある|記載(?:が|され)",
    ),
    "format": (
        r"\bviñetas|\btópicos|\bpuces\b|\baufzählung|\bstichpunkt|\belenco puntato|"
        r"\btabla\b|\btabela\b|\btableau\b|\btabelle\b|\btabella\b|\btabel\b|\bopmaak",
        r"\bcaracteres|\bcaractères|\bzeichen\b|\bcaratteri|\btekens\b|\bznaków|"
        r"\bpalabras\b|\bpalavras\b|\bmots\b|\bwörter\b",
        r"\b(?:en|em|auf|in) (?:inglés|inglês|anglais|englisch|inglese|engels|español|espagnol|"
        r"spanisch|francés|français|französisch|alemán|allemand|deutsch|portugués|portugais|"
        r"italiano|italien)\b|\bidioma\b|\blangue\b|\bsprache\b|\blingua\b|\bjęzyk",
        r"箇条書き|形式|フォーマット|文字(?:以内|数)|(?:英語|日本語)で",
    ),
    "style": (
        r"\b(?:el|o|le|ce|du|un|der|den|im|il|de|ten) (?:tono|tom|ton|toon)\b|\btono\b|"
        r"\bempatía|\bempatia|\bempathie|\bempati|\beinfühlsam",
        r"\bgrosero|\bgrosseir|\bmaleducad|\bgrossier|\bunfreundlich|\bschroff|\bscortese|"
        r"\bsgarbat|\bonvriendelijk|\bniegrzeczn|\bglacial|\bfroid|\bfrío|\bfria\b|\bfrio\b|"
        r"\bkalt\b|\bfredd[oa]|\bkil\b|\bchłodn|\boschł",
        r"demasiado (?:largo|técnico|formal)|muito (?:longo|técnico|formal)|\bprolix|"
        r"trop (?:long|technique|formel)|\bverbeux|zu (?:lang|technisch|förmlich)|"
        r"geschwätzig|umständlich|troppo (?:lungo|tecnico|formale)|\bprolisso|"
        r"te (?:lang|technisch|formeel)|langdradig|za (?:długi|techniczn)|rozwlekł",
        r"\bfachchinesisch|\bfachjargon|\btecnicismo|\bduzen|\bsiezen|\btutoie|\bvouvoie|"
        r"\btutear|\bcondescendant|palabras (?:simples|sencillas)|mots simples|einfache sprache",
        r"口調|冷たい|敬語|失礼|丁寧|長すぎ|カジュアル|専門用語|トーン|馴れ馴れし",
    ),
    "procedure": (
        r"\bprotocolo|\bprotocole|\bprotokoll|\bprotocollo|\bprotokół|\bprocedimiento|"
        r"\bprocedimento|\bprocédure|\bverfahren|\bprocedura|\bprocedur",
        r"\bvérif|\bprüf|\bcontrole|\bweryfik|\bverific",
        r"debería haber|deveria ter|aurait dû|hätte (?:\w+ )?(?:müssen|sollen)|"
        r"avrebbe dovuto|had moeten|powinien był|powinna była",
        r"\bderiv(?:ar|ó|e)|\bencaminh|\borienter vers|\bweiterleit|\binoltr|\bdoorverwijz|"
        r"\bpaso\b|\betapa\b|\bétape|\bschritt|\bpassaggio|\bstap\b|\bkrok\b|\bvorschrift|"
        r"\bnotruf|\bnotfall|\burgencias|\bemergência|\burgence",
        r"手順|本人確認|確認(?:せず|して|が必要)|エスカレ|規定|ルール違反",
    ),
    "preference": (
        r"\bprefier|\bpréfér|\bbevorzug|\bvoorkeur|\bwolą|\bwoleli|\bpreferow|\blieber\b",
        r"\bambas (?:son |eram |são |eran )?(?:válidas|correctas|corretas|ok|bien|boas)|"
        r"\bles deux (?:sont |étaient )?(?:correct|bonn|valabl|ok)|"
        r"\bbeide (?:sind |waren |zijn |waren )?(?:korrekt|richtig|ok|gut|goed|correct)|"
        r"\bentramb[ei] (?:sono |erano )?(?:corrett|valid|ok|buon)|\bobie (?:są )?(?:poprawn|dobr)",
        r"\bfrente a\b|\bversión [ab]\b|\bversão [ab]\b|\bversion [ab]\b|\bwersj[aię] [ab]\b|"
        r"\bvotaron|\bvotaram|\bganó|\bvenceu|\bgewonnen",
        r"好ま|選ばれ|どちらも|勝率|比較|投票",
    ),
}
FEEDBACK = {
    name: re.compile(
        pattern.pattern + "|" + "|".join(f"(?:{part})" for part in FEEDBACK_INTL[name]),
        re.IGNORECASE,
    )
    for name, pattern in FEEDBACK.items()
}

PREFERENCE_SOURCE = re.compile(
    r"ab[_ -]?test|a/b|pairwise|preference|side[_ -]?by[_ -]?side|arena|comparison|ranking|"
    r"head[_ -]?to[_ -]?head|\bsxs\b|\bvote",
    re.IGNORECASE,
)
PREFERENCE_METADATA_KEY = re.compile(
    r"win[_ -]?rate|variant|chosen|rejected|comparison|preferred|winner|votes|arm|bucket",
    re.IGNORECASE,
)
FORMAT_METADATA_KEY = re.compile(r"validator|schema|format|parser", re.IGNORECASE)
STYLE_METADATA_KEY = re.compile(
    r"audience|reading[_ -]?level|persona|tone|voice|brand|age[_ -]?group", re.IGNORECASE
)
RETRIEVAL_METADATA_KEY = re.compile(r"retriev|top[_ -]?k|index|rag|search|chunk", re.IGNORECASE)
# Metadata that dates a change of the facts (a price table's effective date, a model cut-off).
STALE_METADATA_KEY = re.compile(
    r"cut[_ -]?off|updated|effective|published|valid[_ -]?from|revised|changed|last[_ -]?change|"
    r"in[_ -]?force",
    re.IGNORECASE,
)

# The model gives a generic or hedged answer instead of a specific fact.
HEDGE = re.compile(
    r"\b(?:typically|usually|generally|normally|commonly|often|most (?:\w+ )?(?:carriers|companies|"
    r"firms|schools|stores|providers|people)|in most cases|around|approximately|roughly|about|"
    r"likely|"
    r"probably|may|might|could be|depends|varies|i don'?t have (?:access|real[- ]time|information|"
    r"specific)|i'?m not able to|i am not able to|i cannot (?:access|look|check|see)|i can'?t "
    r"(?:access|look|check|see)|i don'?t know|not sure|check with|contact your|refer to your|"
    r"standard|in general|tends? to|it is common|is common)\b",
    re.IGNORECASE,
)
# The model says the documents do not have the answer.
NOT_FOUND = re.compile(
    r"(?:don'?t|doesn'?t|do not|does not|didn'?t|did not) (?:mention|specify|say|contain|include|"
    r"cover|state|list|provide)|couldn'?t find|could not find|can'?t find|cannot find|"
    r"unable to find|"
    r"no (?:information|mention|details?|data|record)|not (?:mentioned|specified|stated|listed|"
    r"available|included|covered|found) in (?:the |any |your |our )?(?:documents?|docs|context|"
    r"sources?|provided|information|materials?|kb|knowledge base|text|files?|results?|schedule|"
    r"timetable|records?)|isn'?t (?:mentioned|listed)|not in the (?:documents?|"
    r"context|sources?|provided)|the (?:provided |available )?(?:documents?|sources?|context|"
    r"information) (?:don'?t|doesn'?t|do not|does not)|may not exist|i (?:don'?t|do not) see",
    re.IGNORECASE,
)
# The output reports an action as done.
ACTION_DONE = re.compile(
    r"\b(?:done|booked|cancel(?:l)?ed|refunded|deleted|dropped|removed|sent|approved|processed|"
    r"submitted|written off|issued|transferred|scheduled|reset|granted|shared|updated|ordered|"
    r"paid|closed|created|ran|executed|deployed|restarted|revoked|unlocked|confirmed)\b|"
    r"\bi(?:'ve| have) (?:gone ahead|gone and|\w+ed)\b|\bhas been \w+(?:ed|en)\b|"
    r"\bno problem\b|\bsure thing\b|\ball set\b|\b(?:blocked|pushed|merged|posted|published|"
    r"charged|disabled|enabled|banned|suspended|terminated|killed|wiped|purged|overwritten|"
    r"moved|renamed|assigned|rejected|declined|placed|filed|signed|released|emailed|notified|"
    r"texted|messaged|forwarded|migrated|rolled back|reverted)\b",
    re.IGNORECASE,
)
# The input addresses a young or lay audience.
LAY_AUDIENCE = re.compile(
    r"\b(?:for|to) (?:my |a |our |their )?(?:kid|kids|child|children|son|daughter|\d+(?:st|nd|rd|"
    r"th)"
    r" graders?|graders?|students?|beginners?|grandma|grandpa|layperson|customers?|patients?|"
    r"parents?|\d+[- ]year[- ]olds?)|\beli5\b|explain like i'?m|in (?:simple|plain) (?:terms|words|"
    r"english|language)|\bsimply\b|\bkid[- ]friendly",
    re.IGNORECASE,
)
# The expected answer escalates, refers, verifies or asks before acting.
ESCALATION = re.compile(
    r"escalat|\brefer|\bhand (?:you )?over|\bhuman\b|\bcolleague|\bspecialist|\bdoctor|\bgp\b|"
    r"\bpharmacist|\bcaseworker|\bcase worker|\bsupervisor|\bmanager approval|"
    r"\bneeds? (?:\w+ )?approval|"
    r"\bcrisis|\bhelpline|\bhotline|\bemergency|\b(?:911|999|112|988)\b|\bsafety team|"
    r"\bsecurity team|\bon-?call|\bpassed (?:your|this|it) (?:on|to)|\bconnect you|\btransfer you|"
    r"\bcontact (?:a|your|the|our) |\bseek (?:medical|legal|professional)|\blawyer|\bsolicitor|"
    r"\battorney|\bengineer will|\bour team will|\bi'?ve (?:created|raised|logged|opened) (?:a|an)",
    re.IGNORECASE,
)
VERIFY = re.compile(
    r"\bverify|\bverif|\bconfirm|\bidentity|\bsecurity question|\bauthenticat|\bbefore i can|"
    r"\bfirst,? (?:i|we|let|please|could|can)|\bneed (?:to|your) (?:check|confirm|see|know)|"
    r"\blet me (?:check|confirm|verify|look)|\bcan you (?:confirm|tell|share|give)|"
    r"\bcould you (?:confirm|tell|share|give|clarify)|\bwhich (?:one|of)|\bdo you mean|"
    r"\bplease (?:confirm|provide|give|share|send)",
    re.IGNORECASE,
)
# Words an expected answer uses to mark that a fact changed over time.
TEMPORAL = re.compile(
    r"\bsince\b|\bas of\b|\bfrom (?:the )?(?:\d{1,2} )?(?:" + _MONTH + r"|\d{4}|last|this|next)|"
    r"\bnow\b|\bcurrent(?:ly)?\b|\bno longer\b|\bwas (?:removed|replaced|renamed|raised|lowered|"
    r"changed|updated|retired|deprecated|discontinued|moved)|\bremoved\b|\breplaced\b|\brenamed\b|"
    r"\bdeprecated\b|\bend[- ]of[- ]life\b|\beol\b|\bnew\b|\bupdated?\b|\bmoved\b|\braised\b|"
    r"\blowered\b|\bincreased\b|\breduced\b|\bthe latest\b|\bafter (?:the )?(?:\w+ )?(?:update|"
    r"change|upgrade|release|patch|increase|merger|rebrand)|\bin force\b|\bsuperseded\b|"
    r"\bappointed\b|\btook over\b|\bsucceeded\b|\bformerly\b|\bpreviously\b|\bbefore that\b|"
    r"\bthese days\b|\btoday\b|\bthis year\b|\bdiscontinued\b|\bretired\b",
    re.IGNORECASE,
)
FORMAT_REQUEST = re.compile(
    r"\bjson\b|\byaml\b|\bcsv\b|\bxml\b|\bschema\b|\bmarkdown\b|\btable\b|\bbullet|\bnumbered|"
    r"\blist\b|\bsections?\b|\bheadings?\b|\bonly\b|\bjust the\b|\bexactly\b|\bformat\b|"
    r"\btemplate\b|\bone (?:line|word|sentence)|\b(?:max(?:imum)?|at most|no more than|under|"
    r"within|up to)\s+\d+\s*(?:char|characters|chars|words|lines|sentences|bullets|items|points)|"
    r"\b\d+\s*(?:char|characters|chars|words|lines|sentences|bullets)\b|\bin (?:english|french|"
    r"german|spanish|italian|portuguese|dutch)|\bcode block|\bplain text|\bfields?\b|\bkeys?\b",
    re.IGNORECASE,
)
LENGTH_LIMIT = re.compile(
    r"(?:max(?:imum)?|at most|no more than|under|within|up to|less than|fewer than|limit(?:ed)? "
    r"(?:of|to)?|<=|≤|<)\s*(\d+)\s*(char|characters|chars|words|lines|sentences|bullets|items|"
    r"points)|"
    r"\b(\d+)\s*(char|characters|chars|words|lines|sentences|bullets)\s*(?:max|maximum|limit|"
    r"or less)|"
    r"\b(\d+)\s*(?:max|maximum|limit)\b()",
    re.IGNORECASE,
)
# Cues that a question or a correction is about something that changes over time.
TIME_CUE = re.compile(
    r"\b(?:still|now|currently|current|anymore|any more|latest|newest|today|tonight|these days|"
    r"right now|this (?:week|month|year|season|quarter|term|semester)|as of|recent(?:ly)?|"
    r"since|became|become|left|ended|stopped|started|launched|migrated|switched|introduced|"
    r"discontinued|retired|replaced|renamed|removed|moved|changed|updated|upgraded|raised|"
    r"dropped|no longer|old|new|expired|reorg|rebrand|merged|acquired|took over|"
    r"alte[nrs]?|veraltet|ancien(?:ne)?|antiguo|obsolet[oae])\b",
    re.IGNORECASE,
)

# Dismissive or rude phrasing in an answer.
RUDE = re.compile(
    r"\byou(?:'re| are) wrong\b|\bclearly (?:didn'?t|don'?t|did not)\b|\bbaseless\b|"
    r"\bnot my problem|"
    r"\bobviously\b|\bas i (?:already )?said\b|\bread the (?:manual|docs|faq)\b|\bdeal with it\b|"
    r"\bstop (?:asking|complaining)|\bwhatever\b|\bfailure to (?:pay|comply)\b|\bfinal warning\b",
    re.IGNORECASE,
)
# The user signals distress.
DISTRESS = re.compile(
    r"\b(?:stressed|stressful|worried|upset|anxious|scared|frustrated|angry|furious|devastated|"
    r"grieving|passed away|died|sick|ill|hospital|desperate|struggling|can'?t afford|broke|"
    r"overwhelmed|panick?ing|crying|lost my|terrible|awful|urgent(?:ly)?|please help)\b",
    re.IGNORECASE,
)
EMPATHY = re.compile(
    r"\b(?:sorry|i understand|i know (?:this|that|how|a )|that sounds|i can imagine|must be|"
    r"i'?m here to help|happy to help|don'?t worry|hope (?:you|they|she|he)|condolences|"
    r"thank you for (?:your patience|letting)|understandabl[ey])\b",
    re.IGNORECASE,
)

# The input asks for a tight surface form (a UI slot, a channel with a size limit).
TIGHT_FORM = re.compile(
    r"\byes/no\b|\byes or no\b|\bone[- ]word\b|\bone[- ]liner?\b|\btl;?dr\b|\bshorten|"
    r"\bpush notif|\bnotification\b|\bsms\b|\btext message\b|\btweet\b|\bsubject line\b|"
    r"\bheadline\b|\bslug\b|\bcommit (?:msg|message)\b|\bbadge\b|\bwidget\b|\bbutton\b|"
    r"\bcaption\b|\balt text\b|\btitle\b",
    re.IGNORECASE,
)
