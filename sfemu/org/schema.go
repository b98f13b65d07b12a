package org

import (
	"fmt"
	"strings"
)

// FieldType is a field's describe type.
type FieldType string

// Field types the org stores.
const (
	TypeID        FieldType = "id"
	TypeString    FieldType = "string"
	TypeTextArea  FieldType = "textarea"
	TypePhone     FieldType = "phone"
	TypeURL       FieldType = "url"
	TypeEmail     FieldType = "email"
	TypePicklist  FieldType = "picklist"
	TypeCurrency  FieldType = "currency"
	TypeDouble    FieldType = "double"
	TypePercent   FieldType = "percent"
	TypeInt       FieldType = "int"
	TypeBoolean   FieldType = "boolean"
	TypeDate      FieldType = "date"
	TypeDateTime  FieldType = "datetime"
	TypeReference FieldType = "reference"
)

// Numeric reports whether values of the type are JSON numbers.
func (t FieldType) Numeric() bool {
	return t == TypeCurrency || t == TypeDouble || t == TypePercent || t == TypeInt
}

// Field is one field of an object, with the describe attributes the org acts on.
type Field struct {
	Name       string
	Label      string
	Type       FieldType
	Length     int // text types
	Required   bool
	Createable bool
	Updateable bool
	Default    string   // stored text of the default on create ("" none)
	Picklist   []string // picklist values
	ReferTo    string   // reference target object
	Custom     bool
	NameField  bool
	Unique     bool
	AutoNumber bool // Createable false; the org numbers records (CaseNumber)
}

// Object is an sObject type: its fields in describe order, key prefix and flags.
type Object struct {
	Name        string
	Label       string
	LabelPlural string
	KeyPrefix   string
	Custom      bool
	// CDC reports whether the object can be selected for Change Data Capture.
	CDC    bool
	Fields []*Field

	index map[string]int // lower-case name -> position in Fields
}

// Field looks a field up by name, case-insensitively, and returns its position.
func (o *Object) Field(name string) (*Field, int, bool) {
	i, ok := o.index[strings.ToLower(name)]
	if !ok {
		return nil, -1, false
	}
	return o.Fields[i], i, true
}

// ChangeEventName is the object's change event entity: AccountChangeEvent, Invoice__ChangeEvent.
func (o *Object) ChangeEventName() string {
	if base, ok := strings.CutSuffix(o.Name, "__c"); ok {
		return base + "__ChangeEvent"
	}
	return o.Name + "ChangeEvent"
}

// The system fields every object has, in the positions the org relies on.
const (
	fID = iota
	fIsDeleted
	fCreatedDate
	fCreatedByID
	fLastModifiedDate
	fLastModifiedByID
	fSystemModstamp
	systemFieldCount
)

// systemFields are the audit fields of every object, neither createable nor updateable.
func systemFields(label string) []*Field {
	return []*Field{
		{Name: "Id", Label: label + " ID", Type: TypeID, Length: 18},
		{Name: "IsDeleted", Label: "Deleted", Type: TypeBoolean, Default: "false"},
		{Name: "CreatedDate", Label: "Created Date", Type: TypeDateTime},
		{Name: "CreatedById", Label: "Created By ID", Type: TypeReference, ReferTo: "User", Length: 18},
		{Name: "LastModifiedDate", Label: "Last Modified Date", Type: TypeDateTime},
		{Name: "LastModifiedById", Label: "Last Modified By ID", Type: TypeReference, ReferTo: "User", Length: 18},
		{Name: "SystemModstamp", Label: "System Modstamp", Type: TypeDateTime},
	}
}

// newObject builds an object from its own fields, after the system fields.
func newObject(name, label, plural, prefix string, cdc bool, fields ...*Field) *Object {
	o := &Object{Name: name, Label: label, LabelPlural: plural, KeyPrefix: prefix, CDC: cdc, Custom: strings.HasSuffix(name, "__c")}
	o.Fields = append(systemFields(label), fields...)
	o.index = make(map[string]int, len(o.Fields))
	for i, f := range o.Fields {
		if f.Label == "" {
			f.Label = f.Name
		}
		if f.Type == TypeReference && f.Length == 0 {
			f.Length = 18
		}
		o.index[strings.ToLower(f.Name)] = i
	}
	return o
}

// Helpers for the standard field lists: writable fields of each type.
func text(name string, length int) *Field {
	return &Field{Name: name, Type: TypeString, Length: length, Createable: true, Updateable: true}
}
func typed(name string, t FieldType) *Field {
	f := &Field{Name: name, Type: t, Createable: true, Updateable: true}
	switch t {
	case TypeTextArea:
		f.Length = 32000
	case TypePhone, TypeURL, TypeEmail:
		f.Length = 80
	}
	return f
}
func required(f *Field) *Field { f.Required = true; return f }
func picklist(name string, values ...string) *Field {
	return &Field{Name: name, Type: TypePicklist, Length: 255, Createable: true, Updateable: true, Picklist: values}
}
func ref(name, to string) *Field {
	return &Field{Name: name, Type: TypeReference, ReferTo: to, Createable: true, Updateable: true}
}
func boolean(name, def string) *Field {
	return &Field{Name: name, Type: TypeBoolean, Default: def, Createable: true, Updateable: true}
}
func nameField(f *Field) *Field { f.NameField = true; return f }

// personName is the read-only Name of Contact and Lead: FirstName and LastName (fullName).
func personName() *Field {
	return &Field{Name: "Name", Label: "Full Name", Type: TypeString, Length: 121, NameField: true}
}

// fillPersonName sets the Name of a record whose object has a read-only person Name.
func fillPersonName(obj *Object, vals []string) {
	f, ni, ok := obj.Field("Name")
	if !ok || f.Createable {
		return
	}
	_, fi, _ := obj.Field("FirstName")
	_, li, _ := obj.Field("LastName")
	vals[ni] = strings.TrimSpace(vals[fi] + " " + vals[li])
}

// Picklist values of the standard objects (a Developer Edition org's defaults).
var (
	accountTypes = []string{"Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other"}
	industries   = []string{"Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology", "Telecommunications", "Transportation", "Utilities", "Other"}
	stages       = []string{"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}
	leadStatuses = []string{"Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"}
	leadSources  = []string{"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}
	caseStatuses = []string{"New", "Working", "Escalated", "Closed"}
	priorities   = []string{"High", "Medium", "Low"}
	caseOrigins  = []string{"Phone", "Email", "Web"}
	notifyFields = []string{"All", "Referenced", "Select", "Where"}
)

// standardObjects are the objects every org has.
func standardObjects() []*Object {
	return []*Object{
		newObject("Account", "Account", "Accounts", "001", true,
			nameField(required(text("Name", 255))), text("AccountNumber", 40), picklist("Type", accountTypes...),
			ref("ParentId", "Account"), picklist("Industry", industries...), typed("AnnualRevenue", TypeCurrency),
			typed("NumberOfEmployees", TypeInt), typed("Phone", TypePhone), typed("Website", TypeURL),
			typed("BillingStreet", TypeTextArea), text("BillingCity", 40), text("BillingState", 80),
			text("BillingPostalCode", 20), text("BillingCountry", 80), typed("Description", TypeTextArea), ref("OwnerId", "User")),
		newObject("Contact", "Contact", "Contacts", "003", true,
			ref("AccountId", "Account"), personName(), text("FirstName", 40), required(text("LastName", 80)), text("Title", 128),
			typed("Email", TypeEmail), typed("Phone", TypePhone), text("MailingCity", 40), text("MailingCountry", 80),
			typed("Description", TypeTextArea), ref("OwnerId", "User")),
		newObject("Opportunity", "Opportunity", "Opportunities", "006", true,
			nameField(required(text("Name", 120))), ref("AccountId", "Account"), required(picklist("StageName", stages...)),
			typed("Amount", TypeCurrency), typed("Probability", TypePercent), required(typed("CloseDate", TypeDate)),
			picklist("LeadSource", leadSources...), typed("Description", TypeTextArea), ref("OwnerId", "User")),
		newObject("Lead", "Lead", "Leads", "00Q", true,
			personName(), text("FirstName", 40), required(text("LastName", 80)), required(text("Company", 255)), text("Title", 128),
			typed("Email", TypeEmail), typed("Phone", TypePhone), required(picklist("Status", leadStatuses...)),
			picklist("LeadSource", leadSources...), picklist("Industry", industries...), ref("OwnerId", "User")),
		newObject("Case", "Case", "Cases", "500", true,
			&Field{Name: "CaseNumber", Type: TypeString, Length: 30, AutoNumber: true, NameField: true},
			ref("AccountId", "Account"), ref("ContactId", "Contact"), text("Subject", 255), picklist("Status", caseStatuses...),
			picklist("Priority", priorities...), picklist("Origin", caseOrigins...), typed("Description", TypeTextArea), ref("OwnerId", "User")),
		newObject("User", "User", "Users", "005", true,
			required(text("Username", 80)), text("FirstName", 40), required(text("LastName", 80)), required(typed("Email", TypeEmail)),
			required(text("Alias", 8)), boolean("IsActive", "true"), text("TimeZoneSidKey", 40)),
		newObject("PushTopic", "Push Topic", "Push Topics", "0IF", false,
			&Field{Name: "Name", Type: TypeString, Length: 25, Required: true, Unique: true, Createable: true, Updateable: true, NameField: true},
			required(text("Query", 1300)), required(typed("ApiVersion", TypeDouble)),
			&Field{Name: "NotifyForFields", Type: TypePicklist, Length: 40, Default: "Referenced", Createable: true, Updateable: true, Picklist: notifyFields},
			boolean("NotifyForOperationCreate", "true"), boolean("NotifyForOperationUpdate", "true"),
			boolean("NotifyForOperationDelete", "true"), boolean("NotifyForOperationUndelete", "true"),
			boolean("IsActive", "true"), text("Description", 400)),
		newObject("StreamingChannel", "Streaming Channel", "Streaming Channels", "0M6", false,
			&Field{Name: "Name", Type: TypeString, Length: 80, Required: true, Unique: true, Createable: true, Updateable: true, NameField: true},
			text("Description", 255), ref("OwnerId", "User")),
	}
}

// ObjectSpec declares a custom object at start-up: "Invoice__c:Status__c=picklist,Amount__c=currency".
type ObjectSpec struct {
	Name   string
	Fields []FieldSpec
}

// FieldSpec is one field of a custom object.
type FieldSpec struct {
	Name string
	Type FieldType
}

// ParseObjectSpec reads "Name__c[:Field__c=type,...]"; a custom object always has Name, and fields default to
// type string.
func ParseObjectSpec(s string) (ObjectSpec, error) {
	name, fields, _ := strings.Cut(s, ":")
	spec := ObjectSpec{Name: strings.TrimSpace(name)}
	if !validCustomName(spec.Name) {
		return spec, fmt.Errorf("custom object %q: the name must be letters, digits and single underscores ending in __c", spec.Name)
	}
	if strings.TrimSpace(fields) == "" {
		return spec, nil
	}
	for _, f := range strings.Split(fields, ",") {
		fname, ftype, _ := strings.Cut(strings.TrimSpace(f), "=")
		fs := FieldSpec{Name: fname, Type: FieldType(strings.ToLower(ftype))}
		if fs.Type == "" {
			fs.Type = TypeString
		}
		if !validCustomName(fs.Name) {
			return spec, fmt.Errorf("custom object %s: field %q must end in __c", spec.Name, fname)
		}
		switch fs.Type {
		case TypeString, TypeTextArea, TypePhone, TypeURL, TypeEmail, TypePicklist, TypeCurrency, TypeDouble,
			TypePercent, TypeInt, TypeBoolean, TypeDate, TypeDateTime:
		default:
			return spec, fmt.Errorf("custom object %s: field %s has unknown type %q", spec.Name, fname, ftype)
		}
		spec.Fields = append(spec.Fields, fs)
	}
	return spec, nil
}

func validCustomName(n string) bool {
	base, ok := strings.CutSuffix(n, "__c")
	if !ok || base == "" || strings.Contains(base, "__") || base[len(base)-1] == '_' || !isLetter(base[0]) {
		return false
	}
	for i := 0; i < len(base); i++ {
		if c := base[i]; !isLetter(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// customObject builds a declared custom object; the n-th one gets key prefix a0n (a00 upwards).
func customObject(spec ObjectSpec, n int) *Object {
	label := strings.ReplaceAll(strings.TrimSuffix(spec.Name, "__c"), "_", " ")
	fields := []*Field{nameField(text("Name", 80)), ref("OwnerId", "User")}
	for _, fs := range spec.Fields {
		f := typed(fs.Name, fs.Type)
		if f.Type == TypeString {
			f.Length = 255
		}
		f.Custom = true
		fields = append(fields, f)
	}
	prefix := fmt.Sprintf("a%02s", strings.ToUpper(fmt.Sprintf("%x", n)))
	return newObject(spec.Name, label, label+"s", prefix, true, fields...)
}
